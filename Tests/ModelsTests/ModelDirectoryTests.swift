import Foundation
import Models
import NN
import Tensor
import Text
import XCTest

final class ModelDirectoryTests: XCTestCase {
    let fixtures = PyTorchFixtureTests.fixtures
    var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("models-\(UUID())")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: scratch) }

    /// A copy of a fixture model directory that a test may spoil.
    func copy(_ name: String) throws -> URL {
        let dst = scratch.appendingPathComponent(name)
        try FileManager.default.copyItem(at: fixtures.appendingPathComponent(name), to: dst)
        return dst
    }

    func assertLoadFails(_ dir: URL, _ fragments: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try ModelDirectory(path: dir.path), file: file, line: line) { error in
            let m = "\(error)"
            for f in fragments { XCTAssertTrue(m.contains(f), "«\(m)» lacks «\(f)»", file: file, line: line) }
        }
    }

    /// `original` edited by `edit` is written to `dir` and refused, naming config.json and `fragments`.
    func assertEditFails(_ dir: URL, _ original: [String: Any], _ fragments: [String], line: UInt,
                         _ edit: (inout [String: Any]) -> Void) throws {
        try editConfig(dir) { $0 = original; edit(&$0) }
        assertLoadFails(dir, ["config.json"] + fragments, line: line)
    }

    /// Sets `section.key` of a config (nil removes it).
    func set(_ json: inout [String: Any], _ section: String, _ key: String, _ value: Any?) {
        var part = json[section] as! [String: Any]
        part[key] = value
        json[section] = part
    }

    func editConfig(_ dir: URL, _ edit: (inout [String: Any]) -> Void) throws {
        let url = dir.appendingPathComponent("config.json")
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        edit(&json)
        try JSONSerialization.data(withJSONObject: json).write(to: url)
    }

    func testFullSizeTorchvisionNamesAndShapes() throws {
        let url = fixtures.appendingPathComponent("torchvision-names.json")
        let names = try JSONDecoder().decode([String: [String: [Int]]].self, from: Data(contentsOf: url))
        XCTAssertEqual(names.count, 11)
        for (arch, expected) in names {
            let bn = arch.hasSuffix("_bn")
            let base = bn ? String(arch.dropLast(3)) : arch
            var initializer = Initializer.forLoading
            let net: Module = base.hasPrefix("resnet")
                ? ResNet(arch: ResNet.Arch(rawValue: base)!, classes: 1000, initializer: &initializer)
                : VGG(cfg: VGG.configs[base]!, batchNorm: bn, classes: 1000, initializer: &initializer)
            let ours = Dictionary(uniqueKeysWithValues: net.namedParameters().map { ($0.name, $0.parameter.value.shape) })
            XCTAssertEqual(Set(ours.keys), Set(expected.keys), arch)
            for (k, shape) in expected where k.hasSuffix("num_batches_tracked") == false {
                XCTAssertEqual(ours[k], shape, "\(arch) \(k)")
            }
        }
    }

    func testSaveAndLoadRoundTrip() throws {
        let source = try ModelDirectory(path: fixtures.appendingPathComponent("vqa-hidden").path)
        let out = scratch.appendingPathComponent("saved").path
        try ModelDirectory.save(config: source.config, model: source.model, to: out)
        let back = try ModelDirectory(path: out)
        XCTAssertEqual(back.config, source.config)
        let a = source.model.root.stateDict(), b = back.model.root.stateDict()
        XCTAssertEqual(Set(a.keys), Set(b.keys))
        for (k, v) in a { XCTAssertEqual(b[k]?.values, v.values, k) }
    }

    /// Saving replaces an earlier model directory (keeping its card) but never a folder that is
    /// not one: its files stay as they were.
    func testSaveReplacesOnlyAModelDirectory() throws {
        let source = try ModelDirectory(path: fixtures.appendingPathComponent("classifier-vgg").path)
        let earlier = try copy("classifier-vgg")
        try "card".write(to: earlier.appendingPathComponent("MODEL_CARD.md"), atomically: true, encoding: .utf8)
        try ModelDirectory.save(config: source.config, model: source.model, to: earlier.path)
        XCTAssertEqual(try String(contentsOf: earlier.appendingPathComponent("MODEL_CARD.md"), encoding: .utf8), "card")
        XCTAssertNoThrow(try ModelDirectory(path: earlier.path))
        let precious = scratch.appendingPathComponent("precious")
        try FileManager.default.createDirectory(at: precious, withIntermediateDirectories: true)
        try "keep".write(to: precious.appendingPathComponent("notes.txt"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ModelDirectory.save(config: source.config, model: source.model, to: precious.path)) { error in
            XCTAssertTrue("\(error)".contains("is not a model directory (it has no config.json)"), "\(error)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: precious.path), ["notes.txt"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: scratch.path).filter { $0.hasPrefix(".") }, [],
                       "no temporary left behind")
    }

    func testBadConfigs() throws {
        let dir = try copy("classifier-vgg")
        try editConfig(dir) { $0["backbone"] = ["arch": "alexnet"] }
        assertLoadFails(dir, ["config.json", "unknown \"backbone.arch\" \"alexnet\""])
        try editConfig(dir) { $0["backbone"] = ["arch": "vgg16"]; $0.removeValue(forKey: "input") }
        assertLoadFails(dir, ["config.json", "missing field \"input\""])
        try editConfig(dir) {
            $0["input"] = ["width": 32, "height": 32, "resize": "stretch", "mean": [0, 0, 0], "std": [1, 1, 1]]
            $0["task"] = "segmentation"
        }
        assertLoadFails(dir, ["unknown \"task\""])
        try editConfig(dir) { $0["task"] = "captioning"; $0["backbone"] = ["arch": "resnet18", "feature": "avgpool"] }
        assertLoadFails(dir, ["missing field \"decoder\""])
        try "not json".write(to: dir.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        assertLoadFails(dir, ["config.json", "not valid JSON"])
        assertLoadFails(scratch.appendingPathComponent("nowhere"), ["no such model directory"])
    }

    /// Attention keys are checked against the decoder kind, the backbone's
    /// feature and the checkpoint, each error naming the key.
    func testBadAttentionConfigs() throws {
        let dir = try copy("sat-vgg")
        let original = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("config.json"))) as! [String: Any]
        func assertFails(_ fragments: [String], line: UInt = #line, _ edit: (inout [String: Any]) -> Void) throws {
            try assertEditFails(dir, original, fragments, line: line, edit)
        }
        try assertFails(["\"backbone.feature\" must be \"map\", not \"avgpool\""]) { set(&$0, "backbone", "feature", "avgpool") }
        try assertFails(["\"backbone.adaptive_pool\" must be between 1 and 1024, got 0"]) { set(&$0, "backbone", "adaptive_pool", 0) }
        try assertFails(["\"decoder.attention_dim\" is 12", "should be 9"]) { set(&$0, "decoder", "attention_dim", 12) }
        try assertFails(["\"decoder.hidden\" is 20", "should be 14"]) { set(&$0, "decoder", "hidden", 20) }
        try assertFails(["missing field \"decoder.attention_dim\""]) { set(&$0, "decoder", "attention_dim", nil) }
        try assertFails(["unknown \"decoder.kind\" \"show-and-attend\"", "show-attend-tell"]) {
            set(&$0, "decoder", "kind", "show-and-attend")
        }
        try assertFails(["\"decoder.attention_dim\" is for \"decoder.kind\": \"show-attend-tell\""]) {
            set(&$0, "decoder", "kind", "show-and-tell")
            set(&$0, "backbone", "feature", "avgpool")
        }
        try assertFails(["\"backbone.adaptive_pool\" pools a map for attention"]) {
            set(&$0, "decoder", "kind", "show-and-tell")
            set(&$0, "backbone", "feature", "avgpool")
            set(&$0, "decoder", "attention_dim", nil)
            set(&$0, "decoder", "dropout", nil)
        }
        try assertFails(["\"backbone.last_pool\" is for VGG backbones"]) { set(&$0, "backbone", "arch", "resnet18") }
        try assertFails(["unknown \"explain_method\" \"attention\""]) { $0["explain_method"] = "attention" }
        try editConfig(dir) { $0 = original }
        XCTAssertNoThrow(try ModelDirectory(path: dir.path))
    }

    /// An attention VQA model's keys are checked against the fusion kind, the
    /// backbone's feature and the checkpoint, each error naming the key.
    func testBadAttentionVQAConfigs() throws {
        let dir = try copy("saaa-vgg-relations")
        let original = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("config.json"))) as! [String: Any]
        func assertFails(_ fragments: [String], line: UInt = #line, _ edit: (inout [String: Any]) -> Void) throws {
            try assertEditFails(dir, original, fragments, line: line, edit)
        }
        try assertFails(["\"backbone.feature\" must be \"map\", not \"avgpool\""]) { set(&$0, "backbone", "feature", "avgpool") }
        try assertFails(["\"fusion.dim\" is 12", "should be 9"]) { set(&$0, "fusion", "dim", 12) }
        try assertFails(["\"fusion.glimpses\" is 2", "should be 3"]) { set(&$0, "fusion", "glimpses", nil) }
        try assertFails(["\"fusion.hidden\" is 5", "should be 11"]) { set(&$0, "fusion", "hidden", 5) }
        try assertFails(["\"question_encoder.hidden\" is 13", "should be 12"]) { set(&$0, "question_encoder", "hidden", 13) }
        try assertFails(["missing field \"fusion.hidden\""]) { set(&$0, "fusion", "hidden", nil) }
        try assertFails(["\"fusion.hops\" must be between 1 and 8, got 9"]) { set(&$0, "fusion", "hops", 9) }
        try assertFails(["\"fusion.dropout\" must be in [0, 1), got 1"]) { set(&$0, "fusion", "dropout", 1) }
        try assertFails(["unknown \"fusion.kind\" \"bilinear\"", "pointwise, attention"]) { set(&$0, "fusion", "kind", "bilinear") }
        try assertFails(["\"fusion.glimpses\" is for \"fusion.kind\": \"attention\""]) { set(&$0, "fusion", "kind", nil) }
        try assertFails(["\"fusion.coordinates\" is false", "reads 18 channels, the map's 16 and x, y", "should be true"]) {
            set(&$0, "fusion", "coordinates", false)
        }
        // Two pools of a 2×2 input leave no map: named before anything runs.
        try assertFails(["\"input\" is 2×2, too small for the vgg backbone", "at least 4×4"]) {
            var input = $0["input"] as! [String: Any]
            input["width"] = 2
            input["height"] = 2
            $0["input"] = input
        }
        try editConfig(dir) { $0 = original }
        XCTAssertNoThrow(try ModelDirectory(path: dir.path))
    }

    /// The keys `gradcam import` writes (docs/model-format-extensions.md) are checked like any other.
    func testImportKeysOutOfPlace() throws {
        let vqa = try copy("saaa-vgg-relations")
        let vqaConfig = try JSONSerialization.jsonObject(with: Data(contentsOf: vqa.appendingPathComponent("config.json"))) as! [String: Any]
        try assertEditFails(vqa, vqaConfig, ["\"backbone.layout\" is for ResNets; this backbone is vgg"], line: #line) { set(&$0, "backbone", "layout", "caffe") }
        try assertEditFails(vqa, vqaConfig, ["unknown \"backbone.layout\" \"keras\"", "torchvision, caffe"], line: #line) {
            set(&$0, "backbone", "layout", "keras")
        }
        try assertEditFails(vqa, vqaConfig, ["\"question_encoder.pad_to\" must be between max_length (26) and 1000, got 5"], line: #line) {
            set(&$0, "question_encoder", "pad_to", 5)
        }
        try assertEditFails(vqa, vqaConfig, ["resize_to (300) needs \"center-crop\""], line: #line) { set(&$0, "input", "resize_to", 300) }
        let captioner = try copy("sat-vgg")
        let captionerConfig = try JSONSerialization.jsonObject(with: Data(contentsOf: captioner.appendingPathComponent("config.json"))) as! [String: Any]
        try assertEditFails(captioner, captionerConfig, ["\"decoder.image_step_predicts\" is for show-and-tell decoders"], line: #line) {
            set(&$0, "decoder", "image_step_predicts", true)
        }
    }

    func testWeightsThatDisagreeWithTheConfig() throws {
        let dir = try copy("classifier-vgg")
        try editConfig(dir) { $0["backbone"] = ["arch": "vgg", "cfg": [8, "M", 16, "M"], "hidden": 24] }
        assertLoadFails(dir, ["weights.safetensors", "unexpected tensor \"features.5.weight\""])
        let truncated = try copy("classifier-resnet18")
        let w = truncated.appendingPathComponent("weights.safetensors")
        let data = try Data(contentsOf: w)
        try data.prefix(data.count / 2).write(to: w)
        assertLoadFails(truncated, ["weights.safetensors", "outside the"])
        // The fixture's layers with a width far beyond the checkpoint: refused
        // before its memory is taken (classifier.0 alone would be 60 000·7·7 × 24
        // floats, 280 MB).
        try editConfig(dir) { $0["backbone"] = ["arch": "vgg", "cfg": [8, "M", 16, 60_000, "M"], "hidden": 24] }
        assertLoadFails(dir, ["config.json", "more parameters than", "weights.safetensors"])
        try editConfig(dir) { $0["backbone"] = ["arch": "vgg", "cfg": [8, "M", 100_000, "M"], "hidden": 24] }
        assertLoadFails(dir, ["config.json", "\"backbone.cfg\" widths must be at most 65536"])
    }

    func testVocabulariesNeedTheirSpecials() throws {
        let dir = try copy("captioner-vgg-fc7")
        let vocab = dir.appendingPathComponent("vocab.txt")
        let lines = try String(contentsOf: vocab, encoding: .utf8).split(separator: "\n").filter { $0 != "<end>" }
        try (lines.joined(separator: "\n") + "\n").write(to: vocab, atomically: true, encoding: .utf8)
        assertLoadFails(dir, ["vocab.txt", "<end>"])
        try FileManager.default.removeItem(at: vocab)
        assertLoadFails(dir, ["vocab.txt"])
    }

    func testLayerNamesFollowPyTorch() throws {
        let dir = try ModelDirectory(path: fixtures.appendingPathComponent("captioner-resnet-2layer").path)
        let names = Set(dir.model.root.namedModules().map(\.name))
        for n in ["backbone.layer4", "backbone.layer4.1.conv2", "backbone.layer2.0.downsample.0", "lstm", "head", "image_proj"] {
            XCTAssertTrue(names.contains(n), n)
        }
    }

    /// What PyTorch's `load_state_dict(strict=True)` accepts loads here and gives PyTorch's logits:
    /// batch norm's `num_batches_tracked` left out (older PyTorch, float-only exports), every name
    /// behind `nn.DataParallel`'s `module.`, and float64 weights. A weight truly missing is named.
    func testLoadsWhatPyTorchLoads() throws {
        for name in ["classifier-resnet18", "classifier-vgg-bn"] {
            let expected = try JSONDecoder().decode(PyTorchFixtureTests.Expected.self, from: Data(
                contentsOf: fixtures.appendingPathComponent(name).appendingPathComponent("expected.json")))
            let x = Tensor(shape: expected.input.shape, values: expected.input.data)
            let original = try Safetensors.read(path: fixtures.appendingPathComponent(name).appendingPathComponent("weights.safetensors").path)
            let counters = original.keys.filter { $0.hasSuffix("num_batches_tracked") }
            XCTAssertFalse(counters.isEmpty, name)
            let withoutCounters = original.filter { !$0.key.hasSuffix("num_batches_tracked") }
            let variants: [(String, [String: Tensor])] = [
                ("without num_batches_tracked", withoutCounters),
                ("module. prefix", Dictionary(uniqueKeysWithValues: original.map { ("module." + $0.key, $0.value) })),
                ("both", Dictionary(uniqueKeysWithValues: withoutCounters.map { ("module." + $0.key, $0.value) })),
            ]
            for (k, (variant, tensors)) in variants.enumerated() {
                let dir = scratch.appendingPathComponent("\(name)-\(k)")
                try FileManager.default.copyItem(at: fixtures.appendingPathComponent(name), to: dir)
                try Safetensors.write(tensors, to: dir.appendingPathComponent("weights.safetensors").path)
                let model = try ModelDirectory(path: dir.path)
                guard case let .classification(net, _) = model.model else { return XCTFail("\(name): wrong task") }
                let logits = net.logits(x, ForwardContext()).values
                let worst = zip(logits, expected.logits!.data).map { abs($0 - $1) }.max()!
                XCTAssertLessThan(worst, 1e-4 * max(1, expected.logits!.data.map(abs).max()!), "\(name), \(variant)")
                for c in counters { XCTAssertEqual(model.model.root.stateDict()[c]?.values, [0], "\(name) \(c)") }
            }
            let missing = scratch.appendingPathComponent("\(name)-missing")
            try FileManager.default.copyItem(at: fixtures.appendingPathComponent(name), to: missing)
            let weight = original.keys.filter { $0.hasSuffix("running_var") }.sorted()[0]
            try Safetensors.write(original.filter { $0.key != weight },
                                  to: missing.appendingPathComponent("weights.safetensors").path)
            assertLoadFails(missing, ["weights.safetensors", "missing tensor \"\(weight)\""])
        }
    }

    /// The manifest's weights digest is `sha256sum`'s, taken from the bytes the model was loaded
    /// from: a checkpoint renamed over the file afterwards (as `train` saves) changes neither the
    /// loaded weights nor the digest.
    func testWeightsDigestIsOfTheLoadedBytes() throws {
        let dir = try copy("classifier-resnet18")
        let weights = dir.appendingPathComponent("weights.safetensors").path
        let model = try ModelDirectory(path: dir.path)
        let sum = Process(), pipe = Pipe()
        sum.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        sum.arguments = [weights]
        sum.standardOutput = pipe
        try sum.run()
        sum.waitUntilExit()
        let printed = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        guard case let .classification(net, _) = model.model else { return XCTFail("wrong task") }
        let x = Tensor.full([1, 3, model.preprocessing.height, model.preprocessing.width], 0.5)
        let before = net.logits(x, ForwardContext()).values
        let zeros = model.model.root.stateDict().mapValues { Tensor.zeros($0.shape) }
        try Safetensors.write(zeros, to: weights)  // a new file renamed over the old one
        XCTAssertEqual(net.logits(x, ForwardContext()).values, before)
        XCTAssertEqual(model.weightsSHA256, String(printed.prefix(64)))
        XCTAssertNotEqual(try ModelDirectory(path: dir.path).weightsSHA256, model.weightsSHA256)
    }
}

