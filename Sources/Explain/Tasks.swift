import Decoding
import Foundation
import Models
import NN
import Tensor
import Text

/// One explained sequence with what a user sees beside the maps.
public struct ExplainedSequence {
    public let explanation: Explanation
    /// The caption explained, or the question for VQA, or nil.
    public let text: String?
    /// log p of each entry (captioning): its word given the image and the words before it.
    public let logProbs: [Float]?
    /// The softmax probability of each entry (VQA, classification).
    public let probabilities: [Float]?
    /// Beam search's size, this hypothesis's rank and total log-probability; nil for a given caption.
    public let beam: (size: Int, rank: Int, logProb: Float)?
    /// An attention captioner's weights over the map's cells at each word [T, h, w];
    /// an attention VQA model's glimpses [K, G, h, w] (the same for every answer:
    /// where the model looked depends on the question, not on the answer); else nil.
    public var attention: Tensor? = nil
    /// Each entry's deletion and insertion AUC, when `ExplainOptions.faithfulness` asked.
    public var faithfulness: [EntryFaithfulness]? = nil
}

/// The question of a VQA explanation as the model read it.
public struct ReadQuestion {
    public let text: String
    public let tokens: [(token: String, id: Int, unknown: Bool)]
    public let truncated: Bool
    /// Whether the question is one of the forms the model was trained on; nil
    /// when the model does not list them (`question_forms.txt`).
    public var knownForm: Bool? = nil
    public var unknownWords: [String] { tokens.filter(\.unknown).map(\.token) }

    /// What a user must know before trusting an answer to this question: words
    /// read as `<unk>` (how many of the words were known), a question with no
    /// known word at all (its answer is about the image alone), a cut question.
    public func warnings(maxLength: Int) -> [String] {
        var found: [String] = []
        let unknown = unknownWords, n = tokens.count
        if unknown.count == n {
            found.append("none of the question's \(n) word\(n == 1 ? "" : "s") is in the model's vocabulary (all read as <unk>): "
                         + "the answers are a guess from the image alone, not an answer to the question")
        } else if !unknown.isEmpty {
            found.append("not in the question vocabulary, read as <unk>: \(unknown.joined(separator: ", ")) "
                         + "(\(n - unknown.count) of \(n) words known)")
        }
        if truncated {
            found.append("the question is longer than the model's \(maxLength) words: only its first \(maxLength) were read")
        }
        if knownForm == false {
            found.append("\"\(text)\" is none of the question forms the model was trained on (`gradcam models MODEL --forms` "
                         + "lists them): its answers may be confident and still mean nothing")
        }
        return found
    }
}

public enum TaskError: Error, CustomStringConvertible {
    case wrongTask(model: String, task: String, expected: String)
    case invalid(String)

    public var description: String {
        switch self {
        case let .wrongTask(model, task, expected):
            return "\(model) is a \(task) model; this command needs a \(expected) model (see `gradcam models`)"
        case let .invalid(message): return message
        }
    }
}

/// Explaining captions: generate by beam search (or take the user's caption),
/// then explain every word at once.
public struct CaptionTask {
    public let model: ModelDirectory
    public let captioner: Captioner
    public let vocabulary: Vocabulary

    public init(model: ModelDirectory) throws {
        guard case let .captioning(captioner, vocabulary) = model.model else {
            throw TaskError.wrongTask(model: model.path, task: model.config.task.rawValue, expected: "captioning")
        }
        self.model = model
        self.captioner = captioner
        self.vocabulary = vocabulary
    }

    /// Beam search's `nbest` hypotheses, each explained; or the given caption, teacher-forced.
    /// With `whole`, each also gets a last entry for the whole caption (the sum of its words'
    /// scores, `TargetSet.caption`), explained in the same pass.
    /// `onUnknown` hears the words of a given caption that became `<unk>`, and whether it was truncated.
    public func explain(image: Tensor, caption: String?, beam: Int, nbest: Int, maxLength: Int?, includeEnd: Bool,
                        whole: Bool = false, score: ScoreKind, options: ExplainOptions,
                        onUnknown: ([String], Bool) -> Void = { _, _ in }) throws -> [ExplainedSequence] {
        if whole, !options.method.hasLayerMap {
            throw TaskError.invalid("--whole explains the caption's log-probability at a layer; \(options.method.rawValue) has no layer map")
        }
        let limit = maxLength ?? model.config.decoder!.maxLength
        let explainer = try Explainer(root: captioner, defaultLayer: model.explainLayer, options: options)
        var captions: [(words: [Int], beam: (Int, Int, Float)?)] = []
        if let caption {
            let encoding = try Tokenizer(vocabulary: vocabulary, maxLength: limit).encode(caption)
            onUnknown(encoding.unknown, encoding.truncated)
            captions = [(encoding.ids, nil)]
        } else {
            guard nbest <= beam else { throw TaskError.invalid("--nbest \(nbest) cannot exceed --beam \(beam)") }
            let search = try BeamSearch(beamSize: beam, maxLength: limit)
            let feature = captioner.imageFeature(image, explainer.sharingContext(for: image))
            let stepper = try CaptionerStepper(captioner: captioner, vocabulary: vocabulary, feature: feature)
            captions = try search.search(stepper, best: nbest).enumerated().map { rank, h in
                (h.words, (beam, rank, h.logProb))
            }
        }
        return try captions.map { words, beamInfo in
            let end = vocabulary.endID!
            let targetWords = includeEnd ? words + [end] : words
            let targets = TargetSet.caption(captioner, vocabulary: vocabulary, words: targetWords, kind: score, wholeCaption: whole)
            let explanation = try explainer.explain(targets, image: image)
            // log p of each word (and of the whole caption), whatever score was differentiated.
            let logProbs = score == .logprob ? explanation.entries.map(\.score)
                : TargetSet.caption(captioner, vocabulary: vocabulary, words: targetWords, kind: .logprob, wholeCaption: whole)
                    .values(for: image, explainer.sharingContext(for: image))
            // Where the decoder looked for each word; for the whole caption, their mean.
            var attention = captioner.attentionMaps(image, words: targetWords, explainer.sharingContext(for: image))
            if let maps = attention, explanation.entries.count > targetWords.count {
                attention = Tensor.concat([maps, maps.mean(axis: 0).unsqueezed(axis: 0)], axis: 0)
            }
            return ExplainedSequence(explanation: explanation, text: words.map { vocabulary.token(at: $0) ?? "<unk>" }.joined(separator: " "), logProbs: logProbs,
                                     probabilities: nil, beam: beamInfo.map { (size: $0.0, rank: $0.1, logProb: $0.2) },
                                     attention: attention,
                                     faithfulness: options.faithfulness ? targets.faithfulness(of: explanation, image: image) : nil)
        }
    }
}

/// Explaining answers to a question: the top K answers or a named one.
public struct VQATask {
    public let model: ModelDirectory
    public let vqa: VQAModel
    public let questions: Vocabulary
    public let answers: Vocabulary

    public init(model: ModelDirectory) throws {
        guard case let .vqa(vqa, questions, answers) = model.model else {
            throw TaskError.wrongTask(model: model.path, task: model.config.task.rawValue, expected: "vqa")
        }
        self.model = model
        self.vqa = vqa
        self.questions = questions
        self.answers = answers
    }

    public func read(_ question: String) throws -> ReadQuestion {
        let tokenizer = try Tokenizer(vocabulary: questions, maxLength: model.config.questionEncoder!.maxLength)
        let e = tokenizer.encode(question)
        guard !e.ids.isEmpty else {
            throw TaskError.invalid("the question \"\(question.prefix(80))\" has no words after normalisation")
        }
        let unk = questions.unkID
        var read = ReadQuestion(text: question, tokens: zip(e.tokens, e.ids).map { ($0, $1, $1 == unk) }, truncated: e.truncated)
        read.knownForm = model.questionForms.map { $0.matches(Tokenizer.words(in: question)) }
        return read
    }

    /// Why maps at `layer` (nil: the model's explain_layer) mislead with a
    /// method that weighs activations by gradients cell by cell, if they do.
    public func layerWarnings(layer: String?, method: Method) -> [String] {
        let layer = layer ?? model.explainLayer
        // Grad-CAM, Grad-CAM++ and XGrad-CAM weigh channels by gradients pooled over the cells,
        // which the invariance does not cancel; the per-cell products of these two it does.
        guard method == .hirescam || method == .layercam, layer == vqa.cellNormalizedLayer else { return [] }
        let consequence = method == .hirescam ? "the hirescam map there is rounding noise"
            : "the layercam map there keeps only the positive half of a zero sum"
        return ["the model divides each cell of \(layer) by its length (v / ‖v‖) before attending, so the answer ignores "
                + "how strongly a cell is active there: gradient × activation is zero in every cell and \(consequence); "
                + "explain a layer below it (`gradcam layers` lists them), or use gradcam"]
    }

    /// All answers' probabilities [A] for the image and question.
    public func probabilities(image: Tensor, question: ReadQuestion) -> [Float] {
        logits(image: image, question: question, ForwardContext()).softmax(axis: 1).values
    }

    func logits(image: Tensor, question: ReadQuestion, _ ctx: ForwardContext) -> Tensor {
        vqa.answerLogits(imageFeature: vqa.imageFeature(image, ctx),
                         question: vqa.questionVector(question.tokens.map(\.id), ctx), ctx)
    }

    /// Explains the named answer, or the top `top` answers (best first).
    public func explain(image: Tensor, question: ReadQuestion, answer: String?, top: Int, score: ScoreKind,
                        options: ExplainOptions) throws -> ExplainedSequence {
        let explainer = try Explainer(root: vqa, defaultLayer: model.explainLayer, options: options)
        let ctx = explainer.sharingContext(for: image)
        let feature = vqa.imageFeature(image, ctx), q = vqa.questionVector(question.tokens.map(\.id), ctx)
        let logits = vqa.answerLogits(imageFeature: feature, question: q, ctx)
        let ids = try answer.map { [try TargetSet.resolve($0, in: answers, kind: "answer")] }
            ?? TargetSet.top(top, of: logits)
        let probs = logits.softmax(axis: 1).values
        let targets = TargetSet.answers(vqa, answers: answers, question: question.tokens.map(\.id), ids: ids, kind: score)
        let explanation = try explainer.explain(targets, image: image)
        return ExplainedSequence(explanation: explanation, text: question.text,
                                 logProbs: nil, probabilities: ids.map { probs[$0] }, beam: nil,
                                 attention: vqa.glimpses(imageFeature: feature, question: q, ctx).map { g in
                                     g.expanded(to: [ids.count] + g.shape.dropFirst()) },
                                 faithfulness: options.faithfulness ? targets.faithfulness(of: explanation, image: image) : nil)
    }
}

/// Explaining classes: the top K or a named class.
public struct ClassifyTask {
    public let model: ModelDirectory
    public let classifier: Classifier
    public let classes: Vocabulary

    public init(model: ModelDirectory) throws {
        guard case let .classification(classifier, classes) = model.model else {
            throw TaskError.wrongTask(model: model.path, task: model.config.task.rawValue, expected: "classification")
        }
        self.model = model
        self.classifier = classifier
        self.classes = classes
    }

    public func explain(image: Tensor, className: String?, top: Int, score: ScoreKind,
                        options: ExplainOptions) throws -> ExplainedSequence {
        let explainer = try Explainer(root: classifier.network, defaultLayer: model.explainLayer,
                                      options: options)
        let logits = classifier.logits(image, explainer.sharingContext(for: image))
        let ids = try className.map { [try TargetSet.resolve($0, in: classes, kind: "class")] }
            ?? TargetSet.top(top, of: logits)
        let probs = logits.softmax(axis: 1).values
        let targets = TargetSet.classes(classifier, names: classes, ids: ids, kind: score)
        let explanation = try explainer.explain(targets, image: image)
        return ExplainedSequence(explanation: explanation, text: nil, logProbs: nil, probabilities: ids.map { probs[$0] }, beam: nil,
                                 faithfulness: options.faithfulness ? targets.faithfulness(of: explanation, image: image) : nil)
    }
}

extension TargetSet {
    /// Every target's score for one image, unrecorded.
    func values(for image: Tensor, _ ctx: ForwardContext) -> [Float] {
        count == 0 ? [] : scores(image, ctx).values
    }
}
