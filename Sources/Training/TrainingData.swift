import Foundation
import Models
import ShapesWorld
import Tensor
import Text

/// What `gradcam train` trains.
public enum TrainingTask: String, CaseIterable, Sendable { case captioner, vqa, classifier }

/// The ShapesWorld architectures: small VGGs with batch norm for 64×64 inputs.
public enum DefaultArchitectures {
    static let input = #"{"width": 64, "height": 64, "resize": "stretch", "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}"#
    // The classifier: no pool after the last convolution, whose 8×8 map is the explained layer.
    static let classifierBackbone = #""arch": "vgg", "cfg": [16, "M", 32, "M", 64, "M", 64], "batch_norm": true"#

    public static func config(for task: TrainingTask) -> ModelConfig {
        let json: String
        switch task {
        case .captioner:
            // Show, Attend and Tell over a 16×16 map (no third pool): each word attends to
            // the cells of its object, and LayerCAM keeps the gradient's place at that scale.
            json = #"{"format": "gradcam-model/1", "task": "captioning", "input": \#(input),"#
                + #""backbone": {"arch": "vgg", "cfg": [16, "M", 32, "M", 64, 128], "batch_norm": true, "feature": "map"},"#
                + #""decoder": {"kind": "show-attend-tell", "embed": 64, "hidden": 256, "attention_dim": 128, "layers": 1,"#
                + #""max_length": 20, "dropout": 0.5}, "explain_layer": "backbone.features.13", "explain_method": "layercam"}"#
        case .vqa:
            // Show, Ask, Attend and Answer over the same 16×16 map, each cell carrying its
            // place, and a second hop asked with what the first saw: "what is left of the
            // red circle?" needs the circle found before its neighbour can be. The explained
            // layer is the one below the map the model normalises cell by cell (see
            // `VQAModel.cellNormalizedLayer`).
            json = #"{"format": "gradcam-model/1", "task": "vqa", "input": \#(input),"#
                + #""backbone": {"arch": "vgg", "cfg": [16, "M", 32, "M", 64, 128], "batch_norm": true, "feature": "map"},"#
                + #""question_encoder": {"embed": 64, "hidden": 256, "layers": 1, "max_length": 26, "embed_activation": "tanh"},"#
                + #""fusion": {"kind": "attention", "dim": 64, "glimpses": 2, "hops": 2, "coordinates": true, "hidden": 256,"#
                + #""dropout": 0.1}, "explain_layer": "backbone.features.10", "explain_method": "layercam"}"#
        case .classifier:
            json = #"{"format": "gradcam-model/1", "task": "classification", "input": \#(input),"#
                + #""backbone": {\#(classifierBackbone), "hidden": 64}, "explain_layer": "features.14"}"#
        }
        return try! ModelConfig.parse(Data(json.utf8), file: "built-in \(task.rawValue) config")
    }
}

/// Examples and vocabularies of a training split.
public enum TrainingData {
    /// - Parameter captionForms: keep only reference captions of these ShapesWorld
    ///   forms (e.g. "list", which names every object); nil keeps all.
    public static func load(task: TrainingTask, directory: String, config: ModelConfig, minCount: Int, answers maxAnswers: Int,
                            limit: Int?, captionForms: Set<String>? = nil) throws -> ([Vocabulary], [Example]) {
        switch task {
        case .captioner:
            guard config.task == .captioning else { throw TrainingError("the config is for \(config.task.rawValue), not captioning") }
            var data = try CaptionDataset(directory: directory).entries
            if let limit { data = Array(data.prefix(limit)) }
            func kept(_ c: CaptionDataset.Reference) -> Bool {
                guard let forms = captionForms, let form = c.form else { return true }
                return forms.contains(form.rawValue)
            }
            let vocabulary = captionVocabulary(data.flatMap { $0.captions.filter(kept).map(\.text) }, minCount: minCount)
            let tokenizer = try Tokenizer(vocabulary: vocabulary, maxLength: config.decoder!.maxLength)
            let examples = data.flatMap { entry in
                entry.captions.filter(kept).map { c in
                    Example(imagePath: entry.image.path, target: .caption(tokenizer.encode(c.text).ids + [vocabulary.endID!]))
                }
            }
            return ([vocabulary], examples)
        case .vqa:
            guard config.task == .vqa else { throw TrainingError("the config is for \(config.task.rawValue), not vqa") }
            var items = try VQADataset(directory: directory).items
            if let limit {
                let kept = Set(Set(items.map(\.image.id)).sorted().prefix(limit))
                items = items.filter { kept.contains($0.image.id) }
            }
            let questions = questionVocabulary(items.map(\.question), minCount: minCount)
            let answers = try answerVocabulary(items.map(\.answer), minCount: 1, top: maxAnswers)
            let tokenizer = try Tokenizer(vocabulary: questions, maxLength: config.questionEncoder!.maxLength)
            let examples = items.compactMap { item -> Example? in
                guard let a = answers.id(of: item.answer) else { return nil }
                return Example(imagePath: item.image.path, target: .answer(question: tokenizer.encode(item.question).ids, answer: a))
            }
            return ([questions, answers], examples)
        case .classifier:
            guard config.task == .classification else { throw TrainingError("the config is for \(config.task.rawValue), not classification") }
            let labels = try LabelDataset(directory: directory)
            var entries = labels.entries
            if let limit { entries = Array(entries.prefix(limit)) }
            return ([try Vocabulary(tokens: labels.categories, source: "labels")],
                    entries.map { Example(imagePath: $0.image.path, target: .label($0.classIndex)) })
        }
    }
}

extension TrainingData {
    /// Caption words seen at least `minCount` times (rarer ones become `<unk>`,
    /// as neuraltalk2), after `<pad>`, `<start>`, `<end>`, `<unk>`.
    public static func captionVocabulary(_ captions: [String], minCount: Int) -> Vocabulary {
        Vocabulary.build(from: captions, minCount: minCount, specials: ["<pad>"] + Vocabulary.captioningSpecials)
    }

    public static func questionVocabulary(_ questions: [String], minCount: Int) -> Vocabulary {
        Vocabulary.build(from: questions, minCount: minCount, specials: Vocabulary.questionSpecials)
    }

    /// The `top` most frequent whole answers seen at least `minCount` times (ties: alphabetical).
    public static func answerVocabulary(_ answers: [String], minCount: Int, top: Int) throws -> Vocabulary {
        var counts: [String: Int] = [:]
        for a in answers { counts[a, default: 0] += 1 }
        let kept = counts.filter { $0.value >= minCount }
            .sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(top).map(\.key)
        return try Vocabulary(tokens: kept, source: "answers")
    }
}

extension TaskModel {
    /// Starts this model from another model directory's weights: every tensor
    /// whose name and shape match when both models have the same task
    /// (continuing training), else only the convolutional backbone — tensors
    /// whose names without the `backbone.` prefix match, classifier heads
    /// excluded (transfer learning, as neuraltalk2 starts from an ImageNet VGG).
    /// Returns how many tensors were copied; none is an error.
    public func initialize(from source: ModelDirectory) throws -> Int {
        let sameTask = source.model.root.stateDict().keys.sorted() == root.stateDict().keys.sorted()
        func key(_ name: String) -> String? {
            if sameTask { return name }
            let stripped = name.hasPrefix("backbone.") ? String(name.dropFirst(9)) : name
            if stripped.hasPrefix("classifier.") || stripped.hasPrefix("fc.") { return nil }
            if case .classification = self { return stripped }
            return name.hasPrefix("backbone.") ? stripped : nil
        }
        var theirs: [String: Tensor] = [:]
        for (name, t) in source.model.root.stateDict() {
            theirs[sameTask ? name : (name.hasPrefix("backbone.") ? String(name.dropFirst(9)) : name)] = t
        }
        var copied = 0
        for (name, parameter) in root.namedParameters() {
            guard let k = key(name), let t = theirs[k], t.shape == parameter.value.shape else { continue }
            parameter.value = t
            copied += 1
        }
        guard copied > 0 else {
            throw TrainingError("\(source.path) has no tensors with this model's names and shapes")
        }
        return copied
    }
}
