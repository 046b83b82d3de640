import Foundation
import ShapesWorld

/// The VQA v2 readers. The input holds up to three files separated by 0x01
/// bytes (which valid JSON cannot contain): questions.json, answers.json and
/// the COCO file giving the image list; missing parts get a small valid
/// default. Reading must return or throw a DatasetError, never trap, and
/// every item must point at a listed image.
private let workspace: String = {
    // In memory where Linux has it: every input is written to a file.
    let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm/" : NSTemporaryDirectory()
    let dir = base + "gradcam-fuzz-vqa-\(getpid())"
    try! FileManager.default.createDirectory(atPath: dir + "/images", withIntermediateDirectories: true)
    for name in ["a.png", "b.png"] {
        _ = FileManager.default.createFile(atPath: dir + "/images/" + name, contents: Data())
    }
    return dir
}()

private let defaults = [
    #"{"questions": [{"question_id": 1, "image_id": 1, "question": "what color is the circle?"}]}"#,
    #"{"annotations": [{"question_id": 1, "image_id": 1, "multiple_choice_answer": "red", "answers": [{"answer": "red"}]}]}"#,
    #"{"images": [{"id": 1, "file_name": "a.png", "width": 64, "height": 64}, {"id": 2, "file_name": "b.png", "width": 64, "height": 64}], "annotations": []}"#,
].map { Data($0.utf8) }

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzVQA(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let parts = UnsafeBufferPointer(start: data, count: size).split(separator: 0x01, maxSplits: 2,
                                                                     omittingEmptySubsequences: false)
    let names = ["questions.json", "answers.json", "captions.json"]
    for (k, name) in names.enumerated() {
        let contents = k < parts.count ? Data(parts[k]) : defaults[k]
        try! contents.write(to: URL(fileURLWithPath: workspace + "/" + name))
    }
    if let vqa = try? VQADataset(directory: workspace) {
        precondition(!vqa.items.isEmpty, "a VQA split without items")
        for item in vqa.items {
            precondition(FileManager.default.fileExists(atPath: item.image.path), "an item whose image is missing")
        }
    }
    return 0
}
