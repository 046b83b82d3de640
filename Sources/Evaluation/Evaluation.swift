import Decoding
import Explain
import Foundation
import Imaging
import Models
import NN
import ShapesWorld
import Tensor
import Text

/// Grounding measured over many explained tokens.
public struct GroundingScores: Sendable {
    public var pointingGame = 0.0, energy = 0.0, iou = 0.0
    public var count = 0

    mutating func add(map: [Float], mask: [Bool]) {
        pointingGame += Grounding.pointingHit(map: map, mask: mask) ? 1 : 0
        energy += Double(Grounding.energy(map: map, mask: mask))
        iou += Double(Grounding.iou(map: map, mask: mask))
        count += 1
    }

    /// Means over the tokens counted.
    var averaged: GroundingScores {
        guard count > 0 else { return self }
        let n = Double(count)
        return GroundingScores(pointingGame: pointingGame / n, energy: energy / n, iou: iou / n, count: count)
    }

    var json: [String: Any] { ["pointing_game": pointingGame, "energy": energy, "iou": iou, "count": count] }
}

/// Faithfulness summed over many explained tokens (`Evaluator.faithfulness`).
public struct FaithfulnessScores: Sendable {
    public var deletion = 0.0, randomDeletion = 0.0, insertion = 0.0, randomInsertion = 0.0
    /// Tokens whose map's deletion AUC is below the random order's.
    public var beatsRandomDeletion = 0.0
    /// ROAD (`ROAD.Scores`): most and least relevant first, and combined.
    public var roadMostRelevantFirst = 0.0, roadLeastRelevantFirst = 0.0, road = 0.0
    public var count = 0

    mutating func add(_ f: EntryFaithfulness) {
        deletion += Double(f.deletion)
        randomDeletion += Double(f.randomDeletion)
        insertion += Double(f.insertion)
        randomInsertion += Double(f.randomInsertion)
        beatsRandomDeletion += f.beatsRandomDeletion ? 1 : 0
        roadMostRelevantFirst += Double(f.road.mostRelevantFirst)
        roadLeastRelevantFirst += Double(f.road.leastRelevantFirst)
        road += Double(f.road.combined)
        count += 1
    }

    /// Means over the tokens counted (the share, for `beatsRandomDeletion`).
    var averaged: FaithfulnessScores {
        guard count > 0 else { return self }
        let n = Double(count)
        return FaithfulnessScores(deletion: deletion / n, randomDeletion: randomDeletion / n, insertion: insertion / n,
                                  randomInsertion: randomInsertion / n, beatsRandomDeletion: beatsRandomDeletion / n,
                                  roadMostRelevantFirst: roadMostRelevantFirst / n, roadLeastRelevantFirst: roadLeastRelevantFirst / n,
                                  road: road / n, count: count)
    }

    var json: [String: Any] {
        ["deletion": deletion, "deletion_random": randomDeletion, "insertion": insertion, "insertion_random": randomInsertion,
         "deletion_beats_random": beatsRandomDeletion, "road_morf": roadMostRelevantFirst, "road_lerf": roadLeastRelevantFirst,
         "road": road, "count": count]
    }
}

/// The cascading randomisation test (`SanityCheck`) summed over many images
/// (`Evaluator.sanity`), for one method.
public struct SanityScores: Sendable {
    /// One cascading step: every group from the top down to `group` random.
    public struct Step: Sendable {
        public let group: String
        public let aboveLayer: Bool
        /// Summed over the entries (their means, once averaged).
        public var spearman = 0.0, ssim = 0.0
        public var count = 0
    }

    public var steps: [Step] = []
    /// Entries whose map kept a Spearman of at most `SanityCheck.passingSpearman`
    /// once every group above the explained layer was random (a share, once averaged).
    public var passingEntries = 0.0
    public var count = 0

    /// The step after which everything above the explained layer is random.
    public var decisive: Step? { steps.last { $0.aboveLayer } }
    /// Whether the method passes: its mean Spearman at the decisive step is at most 0.3.
    public var passes: Bool { (decisive?.spearman ?? .infinity) <= Double(SanityCheck.passingSpearman) }

    /// Adds one image's cascading steps of this method.
    mutating func add(_ cascade: [SanityCheck.Step]) {
        for (k, step) in cascade.enumerated() {
            if steps.count <= k { steps.append(Step(group: step.group, aboveLayer: step.aboveLayer)) }
            steps[k].spearman += step.spearman.reduce(0) { $0 + Double($1) }
            steps[k].ssim += step.ssim.reduce(0) { $0 + Double($1) }
            steps[k].count += step.spearman.count
        }
        if let decisive = cascade.last(where: { $0.aboveLayer }) {
            passingEntries += Double(decisive.spearman.filter { $0 <= SanityCheck.passingSpearman }.count)
            count += decisive.spearman.count
        }
    }

    /// Means over the entries.
    var averaged: SanityScores {
        var mean = self
        mean.steps = steps.map { s in
            var m = s
            if s.count > 0 { m.spearman /= Double(s.count); m.ssim /= Double(s.count) }
            return m
        }
        if count > 0 { mean.passingEntries /= Double(count) }
        return mean
    }

    var json: [String: Any] {
        ["cascading": steps.map { ["group": $0.group, "above_layer": $0.aboveLayer, "spearman": $0.spearman, "ssim": $0.ssim] },
         "decisive_group": decisive?.group ?? "", "decisive_spearman": decisive?.spearman ?? 0,
         "entries_passing": passingEntries, "passes": passes, "count": count]
    }
}

/// Task scores and grounding scores of a model on a split (cli.md, `eval`).
public struct EvaluationReport: Sendable {
    public let model: String
    public let task: String
    public let count: Int
    /// Fractions in [0, 1].
    public let scores: [String: Double]
    /// One entry per method, per baseline ("center-baseline", "random-baseline")
    /// and, for attention models, for the attention map ("attention": a
    /// captioner's at the word, a VQA model's glimpses averaged).
    public let grounding: [String: GroundingScores]
    /// The same, per kind of token: captioning "color" and "shape" words, VQA
    /// question types, classification classes — where a model's maps fail is
    /// rarely spread evenly.
    public let groundingByKind: [String: [String: GroundingScores]]
    /// With `Evaluator.faithfulness`: per method, and per kind then method.
    public var faithfulness: [String: FaithfulnessScores] = [:]
    public var faithfulnessByKind: [String: [String: FaithfulnessScores]] = [:]
    /// With `Evaluator.sanity`: the cascading randomisation test, per method.
    public var sanity: [String: SanityScores] = [:]
    /// The smoothings every map was made with ("aug-smooth", "eigen-smooth"); empty: none.
    public var smoothing: [String] = []

    /// The names in `grounding`, methods first, then the baselines: the order
    /// of tables and charts.
    public var groundingNames: [String] {
        grounding.keys.sorted { ($0.hasSuffix("baseline") ? 1 : 0, $0) < ($1.hasSuffix("baseline") ? 1 : 0, $1) }
    }

    public var json: [String: Any] {
        var fields: [String: Any] = ["model": model, "task": task, "count": count, "scores": scores,
                                     "grounding": grounding.mapValues(\.json),
                                     "grounding_by_kind": groundingByKind.mapValues { $0.mapValues(\.json) }]
        if !faithfulness.isEmpty {
            fields["faithfulness"] = faithfulness.mapValues(\.json)
            fields["faithfulness_by_kind"] = faithfulnessByKind.mapValues { $0.mapValues(\.json) }
        }
        if !sanity.isEmpty { fields["sanity"] = sanity.mapValues(\.json) }
        if !smoothing.isEmpty { fields["smoothing"] = smoothing }
        return fields
    }
}

/// Evaluates a model on a ShapesWorld-format split (or COCO/VQA data with
/// instance masks): task scores, and for every groundable token the pointing
/// game, energy inside the mask and IoU at 15% of the maximum — per method,
/// beside a centre-point baseline and a random-map baseline.
///
/// What is explained: captioning, the generated caption's colour and shape
/// words whose object is unique in the scene ("red" and "circle" of "a red
/// circle" when only one red circle is there); VQA, the correct answer of each
/// question whose answer refers to objects, graded against the union of their
/// masks — the object asked about (colour, shape, "what is left of the red
/// circle?" → the object left of it), the objects found ("is there a …?"),
/// either object of a relation ("is the A left of the B?": a map on either
/// counts; its energy is over both), the objects counted ("how many …?": read
/// the energy, not the pointing game — for "one", the counted object is
/// evidence against "two" rather than for "one"); classification, the true
/// class (the shape of the image's largest object). Maps are compared with the
/// masks at the model's input resolution.
///
/// VQA's kinds are the question types, a type with answers of several types
/// split by answer type ("spatial_other", "spatial_yes_no").
public struct Evaluator {
    public let model: ModelDirectory
    public let methods: [Method]
    public var beamSize = 3
    /// The explained scalar; nil: the log-probability of a caption word, the
    /// logit of an answer or class (the explanation commands' defaults).
    public var score: ScoreKind?
    /// Also measure every graded token's map by deletion and insertion against a
    /// random order (`TargetSet.faithfulness`), per method and per kind.
    public var faithfulness = false
    /// Also run the cascading model-parameter randomisation test (`SanityCheck`)
    /// on each image's explained targets — a caption's words, an image's first
    /// graded answer, the true class — per method.
    public var sanity = false
    /// Smooth every map as the explanation commands' `--aug-smooth` and
    /// `--eigen-smooth` do, so the scores are those of the maps a user sees.
    public var augSmooth = false, eigenSmooth = false

    public init(model: ModelDirectory, methods: [Method]) {
        self.model = model
        self.methods = methods
    }

    /// The options every explanation of this evaluation is made with.
    func options(_ method: Method, faithfulness: Bool = false) -> ExplainOptions {
        ExplainOptions(method: method, faithfulness: faithfulness, augSmooth: augSmooth, eigenSmooth: eigenSmooth)
    }

    public func evaluate(data directory: String, limit: Int? = nil,
                         progress: (Int, Int) -> Void = { _, _ in }) throws -> EvaluationReport {
        let instances = try InstanceMasks(directory: directory)
        var accumulator = GroundingAccumulator(methods: methods, size: (model.config.input.height, model.config.input.width))
        if sanity { accumulator.sanityCheck = try SanityCheck(model: model, layer: model.explainLayer) }
        let scores: [String: Double]
        let count: Int
        switch model.model {
        case .captioning:
            (scores, count) = try captioning(directory, instances, limit, &accumulator, progress)
        case .vqa:
            (scores, count) = try vqa(directory, instances, limit, &accumulator, progress)
        case .classification:
            (scores, count) = try classification(directory, instances, limit, &accumulator, progress)
        }
        var report = EvaluationReport(model: model.path, task: model.config.task.rawValue, count: count, scores: scores,
                                      grounding: accumulator.results, groundingByKind: accumulator.resultsByKind)
        report.faithfulness = accumulator.faithfulness.mapValues(\.averaged)
        report.faithfulnessByKind = accumulator.faithfulnessByKind.mapValues { $0.mapValues(\.averaged) }
        report.sanity = accumulator.sanity.mapValues(\.averaged)
        report.smoothing = [augSmooth ? "aug-smooth" : nil, eigenSmooth ? "eigen-smooth" : nil].compactMap { $0 }
        return report
    }

    private func input(_ path: String) throws -> (Tensor, RGBImage) {
        let image = try RGBImage(contentsOf: path)
        return (model.input(for: image), image)
    }

    private func captioning(_ dir: String, _ instances: InstanceMasks, _ limit: Int?,
                            _ acc: inout GroundingAccumulator, _ progress: (Int, Int) -> Void) throws -> ([String: Double], Int) {
        let task = try CaptionTask(model: model)
        var entries = try CaptionDataset(directory: dir).entries
        if let limit { entries = Array(entries.prefix(limit)) }
        var candidates: [[String]] = [], references: [[[String]]] = []
        var allNamed = 0
        for (k, entry) in entries.enumerated() {
            let (x, _) = try input(entry.image.path)
            let objects = instances.instances(ofImage: entry.image.id)
            // Generate once; explain the same words with every method.
            let caption = try task.explain(image: x, caption: nil, beam: beamSize, nbest: 1, maxLength: nil,
                                           includeEnd: false, score: score ?? .defaultKind(for: .captioning),
                                           options: options(methods.first ?? .gradcam))[0]
            let words = caption.explanation.entries.map(\.label)
            candidates.append(words)
            references.append(entry.captions.map { Tokenizer.words(in: $0.text) })
            let named = namedPairs(words)
            let present = objects.map { pair(of: $0, instances) }
            if named.sorted() == present.sorted() { allNamed += 1 }
            // Groundable tokens: the colour and shape word of a phrase whose object is unique.
            var groundable: [(token: Int, instance: InstanceMasks.Instance, kind: String)] = []
            for (i, p) in namedPhrases(words) {
                let matching = objects.filter { pair(of: $0, instances) == p }
                if matching.count == 1 { groundable += [(i, matching[0], "color"), (i + 1, matching[0], "shape")] }
            }
            let kinds = groundable.map(\.kind)
            if !groundable.isEmpty {
                let masks = try groundable.map { try acc.resize(instances.mask(of: $0.instance), from: entry.image) }
                let targets = TargetSet.caption(task.captioner, vocabulary: task.vocabulary,
                                                words: caption.explanation.entries.map(\.id),
                                                kind: score ?? .defaultKind(for: .captioning))
                for method in methods {
                    let e = method == methods.first ? caption.explanation
                        : try Explainer(root: task.captioner, defaultLayer: model.explainLayer, options: options(method))
                            .explain(targets, image: x)
                    acc.add(method.rawValue, e, groundable.map(\.token), masks, kinds: kinds)
                    if faithfulness {
                        acc.addFaithfulness(method.rawValue, targets.faithfulness(of: e, image: x, only: groundable.map(\.token)),
                                            kinds: kinds)
                    }
                }
                if let attention = caption.attention {
                    acc.addAttention(attention, groundable.map(\.token), masks, kinds: kinds)
                }
                acc.addBaselines(masks, kinds: kinds, seed: UInt64(k))
            }
            if !words.isEmpty {
                let targets = TargetSet.caption(task.captioner, vocabulary: task.vocabulary,
                                                words: caption.explanation.entries.map(\.id),
                                                kind: score ?? .defaultKind(for: .captioning))
                try acc.addSanity(methods) { method in
                    try Explainer(root: task.captioner, defaultLayer: model.explainLayer, options: options(method))
                        .explain(targets, image: x)
                }
            }
            progress(k + 1, entries.count)
        }
        return (["bleu4": BLEU.corpus(candidates: candidates, references: references),
                 "all_objects_named": Double(allNamed) / Double(max(entries.count, 1))], entries.count)
    }

    private func vqa(_ dir: String, _ instances: InstanceMasks, _ limit: Int?,
                     _ acc: inout GroundingAccumulator, _ progress: (Int, Int) -> Void) throws -> ([String: Double], Int) {
        let task = try VQATask(model: model)
        var items = try VQADataset(directory: dir).items
        if let limit {
            let kept = Set(Set(items.map(\.image.id)).sorted().prefix(limit))
            items = items.filter { kept.contains($0.image.id) }
        }
        let kinds = Self.vqaKinds(items.map { ($0.questionType, $0.answerType) })
        var correct: [String: (Double, Int)] = [:]
        var cache: (path: String, input: Tensor)?
        var sanityImages: Set<String> = []
        for (k, item) in items.enumerated() {
            let x = try cache?.path == item.image.path ? cache!.input : input(item.image.path).0
            cache = (item.image.path, x)
            let read = try task.read(item.question)
            let probs = task.probabilities(image: x, question: read)
            let predicted = TargetSet.top(1, of: Tensor(shape: [1, probs.count], values: probs))[0]
            let answer = task.answers.token(at: predicted) ?? ""
            // VQA accuracy: min(#annotators who gave the answer / 3, 1).
            let accuracy = min(Double(item.answers.filter { $0 == answer }.count) / 3, 1)
            for type in Set([item.questionType ?? "all", kinds[k], "overall"]) {
                let (s, n) = correct[type] ?? (0, 0)
                correct[type] = (s + accuracy, n + 1)
            }
            let objects = (item.objectIDs ?? []).compactMap { instances.instance(id: $0) }
            if !objects.isEmpty, objects.count == item.objectIDs?.count, task.answers.id(of: item.answer) != nil {
                let masks = try objects.map { try instances.mask(of: $0) }
                let mask = acc.resize(masks.dropFirst().reduce(masks[0]) { zip($0, $1).map { $0 || $1 } }, from: item.image)
                var glimpses: Tensor?
                func explain(_ options: ExplainOptions) throws -> ExplainedSequence {
                    try task.explain(image: x, question: read, answer: item.answer, top: 1, score: score ?? .defaultKind(for: .vqa),
                                     options: options)
                }
                for method in methods {
                    let e = try explain(options(method, faithfulness: faithfulness))
                    acc.add(method.rawValue, e.explanation, [0], [mask], kinds: [kinds[k]])
                    if let f = e.faithfulness { acc.addFaithfulness(method.rawValue, f, kinds: [kinds[k]]) }
                    glimpses = e.attention
                }
                // The randomisation test once per image, on its first graded question.
                if sanityImages.insert(item.image.path).inserted {
                    try acc.addSanity(methods) { try explain(options($0)).explanation }
                }
                if let glimpses {  // [1, G, h, w]: all glimpses averaged
                    acc.addAttention(glimpses.mean(axis: 1), [0], [mask], kinds: [kinds[k]])
                }
                acc.addBaselines([mask], kinds: [kinds[k]], seed: UInt64(k))
            }
            progress(k + 1, items.count)
        }
        var scores: [String: Double] = [:]
        for (type, (s, n)) in correct {
            scores[type == "overall" ? "vqa_accuracy" : "vqa_accuracy_\(type)"] = s / Double(n)
        }
        return (scores, items.count)
    }

    /// Each question's kind: its question type, split by answer type ("spatial_yes_no",
    /// "spatial_other") when the type's questions have answers of several types.
    static func vqaKinds(_ types: [(question: String?, answer: String?)]) -> [String] {
        var answerTypes: [String: Set<String>] = [:]
        for t in types { answerTypes[t.question ?? "all", default: []].insert(t.answer ?? "") }
        return types.map { t in
            let type = t.question ?? "all"
            guard answerTypes[type, default: []].count > 1 else { return type }
            return type + "_" + (t.answer ?? "unknown").replacingOccurrences(of: "/", with: "_")
        }
    }

    private func classification(_ dir: String, _ instances: InstanceMasks, _ limit: Int?,
                                _ acc: inout GroundingAccumulator, _ progress: (Int, Int) -> Void) throws -> ([String: Double], Int) {
        let task = try ClassifyTask(model: model)
        var entries = try LabelDataset(directory: dir).entries
        if let limit { entries = Array(entries.prefix(limit)) }
        var correct = 0
        for (k, entry) in entries.enumerated() {
            let (x, _) = try input(entry.image.path)
            let logits = task.classifier.logits(x, ForwardContext())
            if TargetSet.top(1, of: logits)[0] == task.classes.id(of: entry.label) { correct += 1 }
            if let id = entry.objectID, let object = instances.instance(id: id), task.classes.id(of: entry.label) != nil {
                let mask = try acc.resize(instances.mask(of: object), from: entry.image)
                func explain(_ options: ExplainOptions) throws -> ExplainedSequence {
                    try task.explain(image: x, className: entry.label, top: 1, score: score ?? .defaultKind(for: .classification),
                                     options: options)
                }
                for method in methods {
                    let e = try explain(options(method, faithfulness: faithfulness))
                    acc.add(method.rawValue, e.explanation, [0], [mask], kinds: [entry.label])
                    if let f = e.faithfulness { acc.addFaithfulness(method.rawValue, f, kinds: [entry.label]) }
                }
                try acc.addSanity(methods) { try explain(options($0)).explanation }
                acc.addBaselines([mask], kinds: [entry.label], seed: UInt64(k))
            }
            progress(k + 1, entries.count)
        }
        return (["accuracy": Double(correct) / Double(max(entries.count, 1))], entries.count)
    }

    /// "colour shape" of an instance, from its category and colour attribute.
    private func pair(of instance: InstanceMasks.Instance, _ instances: InstanceMasks) -> String {
        "\(instance.attributes["color"] ?? "") \(instance.category)"
    }

    /// Each colour word directly followed by a shape word, with the colour's position.
    private func namedPhrases(_ words: [String]) -> [(Int, String)] {
        let colors = Set(ShapeColor.allCases.map(\.rawValue)), shapes = Set(Shape.allCases.map(\.rawValue))
        return words.indices.dropLast().compactMap { i in
            colors.contains(words[i]) && shapes.contains(words[i + 1]) ? (i, words[i] + " " + words[i + 1]) : nil
        }
    }

    private func namedPairs(_ words: [String]) -> [String] { namedPhrases(words).map(\.1) }
}

/// Sums grounding measures per method and for the baselines, overall and per
/// kind of token.
struct GroundingAccumulator {
    let methods: [Method]
    let size: (height: Int, width: Int)
    var totals: [String: GroundingScores] = [:]
    var totalsByKind: [String: [String: GroundingScores]] = [:]
    var faithfulness: [String: FaithfulnessScores] = [:]
    var faithfulnessByKind: [String: [String: FaithfulnessScores]] = [:]
    /// Set when the evaluation runs the randomisation test (`Evaluator.sanity`).
    var sanityCheck: SanityCheck?
    var sanity: [String: SanityScores] = [:]

    /// With a `sanityCheck`, runs its cascading test on one image's targets, which
    /// `explain(method)` explains with the model's current weights.
    mutating func addSanity(_ methods: [Method], explain: (Method) throws -> Explanation) throws {
        guard let sanityCheck else { return }
        let (_, steps) = try sanityCheck.run(methods: methods, tests: [.cascading], explain: explain)
        for method in methods { sanity[method.rawValue, default: SanityScores()].add(steps.filter { $0.method == method }) }
    }

    init(methods: [Method], size: (Int, Int)) {
        self.methods = methods
        self.size = size
    }

    var results: [String: GroundingScores] { totals.mapValues(\.averaged) }
    var resultsByKind: [String: [String: GroundingScores]] { totalsByKind.mapValues { $0.mapValues(\.averaged) } }

    private mutating func record(_ name: String, kind: String, map: [Float], mask: [Bool]) {
        totals[name, default: GroundingScores()].add(map: map, mask: mask)
        totalsByKind[kind, default: [:]][name, default: GroundingScores()].add(map: map, mask: mask)
    }

    mutating func addFaithfulness(_ name: String, _ scores: [EntryFaithfulness], kinds: [String]) {
        for (f, kind) in zip(scores, kinds) {
            faithfulness[name, default: FaithfulnessScores()].add(f)
            faithfulnessByKind[kind, default: [:]][name, default: FaithfulnessScores()].add(f)
        }
    }

    /// A mask of the original image resampled to the model input by pixel centres.
    func resize(_ mask: [Bool], from image: DatasetImage) -> [Bool] {
        let (h, w) = size
        return (0..<(h * w)).map { i in
            let y = min(Int((Double(i / w) + 0.5) * Double(image.height) / Double(h)), image.height - 1)
            let x = min(Int((Double(i % w) + 0.5) * Double(image.width) / Double(w)), image.width - 1)
            return mask[y * image.width + x]
        }
    }

    mutating func add(_ name: String, _ e: Explanation, _ tokens: [Int], _ masks: [[Bool]], kinds: [String]) {
        for ((t, mask), kind) in zip(zip(tokens, masks), kinds) {
            let map = e.saliency(t)
            if !map.isEmpty { record(name, kind: kind, map: map, mask: mask) }
        }
    }

    /// An attention model's weights at the tokens [T, h, w] (a captioner's
    /// before each word was chosen), bilinear to the input size, as "attention".
    mutating func addAttention(_ attention: Tensor, _ tokens: [Int], _ masks: [[Bool]], kinds: [String]) {
        let (h, w) = size, plane = h * w
        let up = attention.reshaped([attention.shape[0], 1, attention.shape[1], attention.shape[2]])
            .resizedBilinear(height: h, width: w).values
        for ((t, mask), kind) in zip(zip(tokens, masks), kinds) {
            record("attention", kind: kind, map: Array(up[(t * plane)..<((t + 1) * plane)]), mask: mask)
        }
    }

    /// The centre baseline peaks at the image centre and falls off as a Gaussian;
    /// the random baseline is uniform noise (seeded, so runs repeat).
    mutating func addBaselines(_ masks: [[Bool]], kinds: [String], seed: UInt64) {
        let (h, w) = size
        let sigma = Double(min(h, w)) / 4
        let center = (0..<(h * w)).map { i -> Float in
            let dy = Double(i / w) - Double(h - 1) / 2, dx = Double(i % w) - Double(w - 1) / 2
            return Float(exp(-(dx * dx + dy * dy) / (2 * sigma * sigma)))
        }
        var rng = SeededGenerator(seed: seed &+ 0x5EED)
        for (mask, kind) in zip(masks, kinds) {
            record("center-baseline", kind: kind, map: center, mask: mask)
            let random = (0..<(h * w)).map { _ in rng.nextFloat() }
            record("random-baseline", kind: kind, map: random, mask: mask)
        }
    }
}
