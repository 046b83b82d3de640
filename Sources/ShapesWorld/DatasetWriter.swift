import AtomicOutput
import Foundation
import Imaging
import Text

extension Split {
    /// The split's usual folder name: `train`, `test`, `test-heldout`.
    public var datasetName: String { self == .heldout ? "test-heldout" : rawValue }
}

extension Bias {
    /// A short description for a split's `info`.
    var summary: String {
        switch self {
        case .markWithShape(let shape): "corner mark on every image with a \(shape.rawValue), no other"
        case .markAtRandom: "corner mark on a random half of the images"
        }
    }
}

/// Generates `count` scenes (indices 0..<count) and writes them as one split:
///
/// ```
/// DIR/images/000001.png …   image id i is scene index i − 1 (at least 6 digits)
/// DIR/captions.json         COCO captions (+ "form" per caption)
/// DIR/instances.json        COCO instances, one category per shape, RLE masks, "attributes"
/// DIR/questions.json        VQA v2 questions
/// DIR/answers.json          VQA v2 annotations (+ "object_ids": instance annotation ids)
/// DIR/labels.json           classification: the shape of each image's largest object
/// ```
///
/// Instance, caption and question ids are `image id × 10 + k` (k < 10), so an
/// id says which image it belongs to. The split is written atomically
/// (`OutputPath`), so DIR is either absent or complete; DIR must not exist
/// already (or be an empty folder).
///
/// - Parameter progress: called after each image with (done, total); returning
///   false stops the run: the partial split is removed and `.cancelled` thrown.
/// - Throws: `DatasetError.invalidArgument` for a bad count or size,
///   `.output` when DIR exists or cannot be made there, `.unwritable` when a file cannot be written.
public func writeDataset(
    to directory: String, count: Int, seed: UInt64, size: Int = 64, split: Split = .train,
    bias: Bias? = nil, progress: ((Int, Int) -> Bool)? = nil
) throws(DatasetError) {
    let generator = try SceneGenerator(size: size, seed: seed, split: split, bias: bias)
    guard count >= 1 else { throw .invalidArgument("the number of images must be at least 1 (got \(count))") }

    // Missing folders above the split are made, as `mkdir -p` would.
    let parent = URL(fileURLWithPath: directory).standardizedFileURL.deletingLastPathComponent()
    do {
        try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
    } catch {
        throw .unwritable(path: parent.path, reason: error.localizedDescription)
    }
    do {
        try OutputPath(directory, replacing: .emptyDirectory(remedy: "remove it or choose another folder")).writeDirectory { temporary in
            let images = temporary + "/images"
            do {
                try FileManager.default.createDirectory(atPath: images, withIntermediateDirectories: false)
            } catch {
                throw DatasetError.unwritable(path: images, reason: error.localizedDescription)
            }
            var writer = SplitWriter(generator: generator, count: count)
            for index in 0..<count {
                let scene = generator.scene(index: index)
                let path = images + "/" + writer.fileName(index + 1)
                do {
                    try scene.image.write(to: path)
                } catch {
                    throw DatasetError.unwritable(path: path, reason: "\(error)")
                }
                writer.add(scene)
                if progress?(index + 1, count) == false { throw DatasetError.cancelled }
            }
            try writer.writeJSON(to: URL(fileURLWithPath: temporary))
        }
    } catch let error as DatasetError {
        throw error
    } catch let error as OutputError {
        throw .output(error)
    } catch {
        throw .unwritable(path: directory, reason: "\(error)")
    }
}

/// Collects the JSON records of a split scene by scene.
private struct SplitWriter {
    let generator: SceneGenerator
    let digits: Int
    var images: [JSONRecords.Image] = []
    var captions: [JSONRecords.CaptionAnnotation] = []
    var instances: [JSONRecords.InstanceAnnotation] = []
    var questions: [JSONRecords.QuestionRecord] = []
    var answers: [JSONRecords.AnswerRecord] = []
    var labels: [JSONRecords.LabelImage] = []

    init(generator: SceneGenerator, count: Int) {
        self.generator = generator
        digits = max(6, String(count).count)
    }

    func fileName(_ imageID: Int) -> String {
        let number = String(imageID)
        return String(repeating: "0", count: max(0, digits - number.count)) + number + ".png"
    }

    mutating func add(_ scene: Scene) {
        let imageID = scene.index + 1, size = generator.size
        let mark: Bool? = generator.bias == nil ? nil : scene.hasCornerMark
        let image = JSONRecords.Image(id: imageID, fileName: fileName(imageID), width: size, height: size, cornerMark: mark)
        images.append(image)
        for (k, caption) in scene.captions.enumerated() {
            captions.append(.init(id: imageID * 10 + k, imageId: imageID, caption: caption.text, form: caption.form.rawValue))
        }
        for object in scene.objects {
            let box = object.box
            instances.append(.init(
                id: imageID * 10 + object.id, imageId: imageID,
                categoryId: categoryID(object.shape),
                bbox: [box.x, box.y, box.width, box.height].map(Double.init), area: Double(object.area), iscrowd: 0,
                segmentation: .runs(height: size, width: size,
                                    counts: RunLengthEncoding.encode(object.mask, width: size, height: size)),
                attributes: ["color": object.color.rawValue, "size": object.size.rawValue]))
        }
        for (k, question) in scene.questions.enumerated() {
            let questionID = imageID * 10 + k
            questions.append(.init(questionId: questionID, imageId: imageID, question: question.text))
            answers.append(.init(
                questionId: questionID, imageId: imageID, questionType: question.type.rawValue,
                answerType: question.answerType, multipleChoiceAnswer: question.answer,
                answers: (1...10).map { .init(answer: question.answer, answerConfidence: "yes", answerId: $0) },
                objectIds: question.objectIDs.map { imageID * 10 + $0 }))
        }
        let largest = scene.largestObject
        labels.append(.init(id: imageID, fileName: image.fileName, width: size, height: size,
                            label: largest.shape.rawValue, objectId: imageID * 10 + largest.id, cornerMark: mark))
    }

    /// COCO category ids start at 1; ours follow `Shape.allCases`.
    private func categoryID(_ shape: Shape) -> Int {
        (Shape.allCases.firstIndex(of: shape) ?? 0) + 1
    }

    func writeJSON(to folder: URL) throws(DatasetError) {
        let info = JSONRecords.Info(
            description: "ShapesWorld \(generator.split.datasetName) split", version: "1",
            split: generator.split.datasetName, seed: generator.seed, size: generator.size,
            bias: generator.bias?.summary)
        let categories = Shape.allCases.map {
            JSONRecords.Category(id: categoryID($0), name: $0.rawValue, supercategory: "shape")
        }
        try write(JSONRecords.CaptionsFile(info: info, images: images, annotations: captions),
                  to: folder, "captions.json")
        try write(JSONRecords.InstancesFile(info: info, images: images, annotations: instances, categories: categories),
                  to: folder, "instances.json")
        try write(JSONRecords.QuestionsFile(info: info, taskType: "Open-Ended", dataType: "shapesworld",
                                            dataSubtype: generator.split.datasetName, questions: questions),
                  to: folder, "questions.json")
        try write(JSONRecords.AnswersFile(info: info, annotations: answers), to: folder, "answers.json")
        let forms = folder.appendingPathComponent(QuestionForms.fileName)
        do { try Data(Grammar.questionForms.utf8).write(to: forms) } catch {
            throw .unwritable(path: forms.path, reason: error.localizedDescription)
        }
        try write(JSONRecords.LabelsFile(categories: Shape.allCases.map(\.rawValue), images: labels),
                  to: folder, "labels.json")
    }

    private func write(_ value: some Encodable, to folder: URL, _ name: String) throws(DatasetError) {
        let url = folder.appendingPathComponent(name)
        do {
            try JSONRecords.encoder().encode(value).write(to: url)
        } catch {
            throw .unwritable(path: url.path, reason: error.localizedDescription)
        }
    }
}
