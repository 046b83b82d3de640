import Foundation

/// The JSON records of a split's files, shared by the writer and the readers
/// so the two cannot disagree. Property names are camel case and map to the
/// formats' snake-case keys (`image_id`, `file_name`, …) through explicit
/// coding keys: Foundation's snake-case key strategies convert every key of
/// every record, which took half the time of reading a 60 000-scene split's
/// answers. Optional fields are ShapesWorld extensions or fields real COCO /
/// VQA files may lack; unknown keys in real files are ignored.
enum JSONRecords {
    /// COCO's `info`: all optional so any COCO file's `info` decodes.
    struct Info: Codable {
        var description: String?
        var version: String?
        var split: String?
        var seed: UInt64?
        var size: Int?
        var bias: String?
    }

    /// COCO's image record; `cornerMark` is written only for biased splits.
    struct Image: Codable {
        var id: Int
        var fileName: String
        var width: Int
        var height: Int
        var cornerMark: Bool?
        enum CodingKeys: String, CodingKey {
            case id, width, height, fileName = "file_name", cornerMark = "corner_mark"
        }
    }

    /// Any COCO file, read only for its image list (VQA uses the captions file's).
    struct ImageList: Codable {
        var images: [Image]
    }

    // COCO captions (captions.json).
    struct CaptionsFile: Codable {
        var info: Info?
        var images: [Image]
        var annotations: [CaptionAnnotation]
    }

    struct CaptionAnnotation: Codable {
        var id: Int
        var imageId: Int
        var caption: String
        /// ShapesWorld: the template (`CaptionForm`) the caption comes from.
        var form: String?
        enum CodingKeys: String, CodingKey { case id, caption, form, imageId = "image_id" }
    }

    // COCO instances (instances.json).
    struct InstancesFile: Codable {
        var info: Info?
        var images: [Image]
        var annotations: [InstanceAnnotation]
        var categories: [Category]
    }

    struct InstanceAnnotation: Codable {
        var id: Int
        var imageId: Int
        var categoryId: Int
        var bbox: [Double]
        var area: Double
        var iscrowd: Int?
        var segmentation: Segmentation
        /// ShapesWorld: `color` and `size` of the object.
        var attributes: [String: String]?
        enum CodingKeys: String, CodingKey {
            case id, bbox, area, iscrowd, segmentation, attributes, imageId = "image_id", categoryId = "category_id"
        }
    }

    struct Category: Codable {
        var id: Int
        var name: String
        var supercategory: String?
    }

    // VQA v2 questions (questions.json).
    struct QuestionsFile: Codable {
        var info: Info?
        var taskType: String?
        var dataType: String?
        var dataSubtype: String?
        var questions: [QuestionRecord]
        enum CodingKeys: String, CodingKey {
            case info, questions, taskType = "task_type", dataType = "data_type", dataSubtype = "data_subtype"
        }
    }

    struct QuestionRecord: Codable {
        var questionId: Int
        var imageId: Int
        var question: String
        enum CodingKeys: String, CodingKey { case question, questionId = "question_id", imageId = "image_id" }
    }

    // VQA v2 annotations (answers.json).
    struct AnswersFile: Codable {
        var info: Info?
        var annotations: [AnswerRecord]
    }

    struct AnswerRecord: Codable {
        var questionId: Int
        var imageId: Int
        var questionType: String?
        var answerType: String?
        var multipleChoiceAnswer: String
        var answers: [HumanAnswer]
        /// ShapesWorld: instance annotation ids the answer refers to.
        var objectIds: [Int]?
        enum CodingKeys: String, CodingKey {
            case answers, questionId = "question_id", imageId = "image_id", questionType = "question_type",
                 answerType = "answer_type", multipleChoiceAnswer = "multiple_choice_answer", objectIds = "object_ids"
        }
    }

    struct HumanAnswer: Codable {
        var answer: String
        var answerConfidence: String?
        var answerId: Int?
        enum CodingKeys: String, CodingKey { case answer, answerConfidence = "answer_confidence", answerId = "answer_id" }
    }

    // Classification (labels.json, a ShapesWorld format).
    struct LabelsFile: Codable {
        var categories: [String]
        var images: [LabelImage]
    }

    struct LabelImage: Codable {
        var id: Int
        var fileName: String
        var width: Int
        var height: Int
        var label: String
        /// The instance annotation id of the object that gave the label.
        var objectId: Int?
        var cornerMark: Bool?
        enum CodingKeys: String, CodingKey {
            case id, width, height, label, fileName = "file_name", objectId = "object_id", cornerMark = "corner_mark"
        }
    }

    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    static func decoder() -> JSONDecoder { JSONDecoder() }
}
