/// A VQA v2 split: questions, their answers and (for ShapesWorld) the objects
/// each answer refers to.
public struct VQADataset: Sendable {
    public struct Item: Sendable {
        public let questionID: Int
        public let image: DatasetImage
        public let question: String
        /// VQA's `question_type` (ShapesWorld: `QuestionType` raw values).
        public let questionType: String?
        /// "yes/no", "number" or "other".
        public let answerType: String?
        /// The `multiple_choice_answer`: the consensus answer to train on.
        public let answer: String
        /// The annotators' answers (ten in VQA v2), for VQA accuracy.
        public let answers: [String]
        /// Instance annotation ids (instances.json) the answer refers to; nil
        /// when the file does not say.
        public let objectIDs: [Int]?
    }

    /// In the order of the questions file.
    public let items: [Item]

    /// Reads `questions.json` and `answers.json` of a split written by
    /// `writeDataset`, with the image list of its `captions.json`.
    public init(directory: String) throws(DatasetError) {
        try self.init(questionsFile: DatasetFiles.path(directory, "questions.json"),
                      answersFile: DatasetFiles.path(directory, "answers.json"),
                      imagesFile: DatasetFiles.path(directory, "captions.json"),
                      imagesDirectory: DatasetFiles.path(directory, "images"))
    }

    /// Reads VQA v2 files; VQA has no image list of its own, so `imagesFile` is
    /// any COCO file of the same images (e.g. `captions_val2014.json`).
    ///
    /// - Throws: `DatasetError` for a missing or malformed file, no questions,
    ///   a question of an unknown image, duplicate question ids, an answer to no
    ///   question or for another image, a question without an answer, or
    ///   missing image files (only the images questions refer to are checked).
    public init(questionsFile: String, answersFile: String, imagesFile: String,
                imagesDirectory: String) throws(DatasetError) {
        let questions = try DatasetFiles.decode(JSONRecords.QuestionsFile.self, from: questionsFile).questions
        let answers = try DatasetFiles.decode(JSONRecords.AnswersFile.self, from: answersFile).annotations
        let imageList = try DatasetFiles.decode(JSONRecords.ImageList.self, from: imagesFile).images
        let (images, index) = try DatasetFiles.images(imageList, file: imagesFile, directory: imagesDirectory)
        guard !questions.isEmpty else { throw .emptySplit(file: questionsFile, detail: "there are no questions") }

        var questionImage: [Int: Int] = [:]
        for question in questions {
            guard index[question.imageId] != nil else {
                throw .unknownImageID(file: questionsFile, what: "question \(question.questionId)",
                                      imageID: question.imageId, imageList: imagesFile)
            }
            guard questionImage.updateValue(question.imageId, forKey: question.questionId) == nil else {
                throw .invalid(file: questionsFile, detail: "question id \(question.questionId) is used twice")
            }
        }
        var answerOf: [Int: JSONRecords.AnswerRecord] = [:]
        for answer in answers {
            guard let imageID = questionImage[answer.questionId] else {
                throw .invalid(file: answersFile,
                               detail: "answers question \(answer.questionId), which is not in \(questionsFile)")
            }
            guard imageID == answer.imageId else {
                throw .invalid(file: answersFile, detail: "question \(answer.questionId) is about image \(imageID)"
                               + " in \(questionsFile) but image \(answer.imageId) here")
            }
            guard answerOf.updateValue(answer, forKey: answer.questionId) == nil else {
                throw .invalid(file: answersFile, detail: "question \(answer.questionId) is answered twice")
            }
        }
        let unanswered = questions.filter { answerOf[$0.questionId] == nil }
        if let first = unanswered.first {
            throw .invalid(file: answersFile, detail: "\(unanswered.count) question(s) have no answer"
                           + " (first: question \(first.questionId))")
        }

        var items: [Item] = []
        items.reserveCapacity(questions.count)
        for question in questions {
            guard let answer = answerOf[question.questionId], let position = index[question.imageId] else { continue }
            items.append(Item(questionID: question.questionId, image: images[position], question: question.question,
                              questionType: answer.questionType, answerType: answer.answerType,
                              answer: answer.multipleChoiceAnswer, answers: answer.answers.map(\.answer),
                              objectIDs: answer.objectIds))
        }
        let used = Set(questions.map(\.imageId))
        try DatasetFiles.checkExist(images.filter { used.contains($0.id) }, listedIn: imagesFile,
                                    directory: imagesDirectory)
        self.items = items
    }
}
