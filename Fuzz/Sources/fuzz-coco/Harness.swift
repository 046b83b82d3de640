import Foundation
import ShapesWorld

/// The COCO-style readers: the input is written to a file and read as a
/// captions file, an instances file (then every instance's mask is decoded:
/// polygons, run lengths, compressed run lengths) and a labels file. Image
/// files are looked up in a folder holding a.png, b.png and 000001.png.
/// Each reader must return or throw a DatasetError, never trap.
private let workspace: String = {
    // In memory where Linux has it: every input is written to a file.
    let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm/" : NSTemporaryDirectory()
    let dir = base + "gradcam-fuzz-coco-\(getpid())"
    try! FileManager.default.createDirectory(atPath: dir + "/images", withIntermediateDirectories: true)
    for name in ["a.png", "b.png", "000001.png"] {
        _ = FileManager.default.createFile(atPath: dir + "/images/" + name, contents: Data())
    }
    return dir
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCOCO(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let file = workspace + "/annotations.json"
    try! Data(bytes: data, count: size).write(to: URL(fileURLWithPath: file))
    let images = workspace + "/images"
    if let captions = try? CaptionDataset(annotationFile: file, imagesDirectory: images) {
        precondition(!captions.entries.isEmpty, "a caption split without images")
    }
    if let instances = try? InstanceMasks(annotationFile: file, imagesDirectory: images) {
        for instance in instances.instances {
            guard let image = instances.image(id: instance.imageID) else { preconditionFailure("an instance of no image") }
            if let mask = try? instances.mask(of: instance) {
                precondition(mask.count == image.width * image.height, "a mask of the wrong size")
            }
        }
    }
    if let labels = try? LabelDataset(labelsFile: file, imagesDirectory: images) {
        for entry in labels.entries {
            precondition(labels.categories[entry.classIndex] == entry.label, "a label with the wrong class index")
        }
    }
    return 0
}
