import AtomicOutput
import Crypto
import Foundation
import Models
import NN
import Tensor
import Text
import TorchFiles

/// A model read from another codebase's files, about to become an ordinary
/// model directory (spec/model-format.md) that every command uses unchanged.
public struct ImportedModel {
    /// The codebase, as the model card names it.
    public var family: String
    /// config.json, as JSON (checked by `ModelConfig.parse` before anything is written).
    public var config: [String: Any]
    /// The tensors by the model format's names.
    public var tensors: [String: Tensor]
    /// Each vocabulary file's tokens (`vocab.txt`, `questions.txt`, `answers.txt`).
    public var vocabularies: [String: [String]]
    /// The files read, by their role (`checkpoint`, `word map`, …).
    public var sources: [(role: String, path: String)]
    /// What was read from the files or assumed, one line each, for the card and the terminal.
    public var facts: [String]

    /// Writes the model directory atomically: into a temporary directory,
    /// loaded back as `ModelDirectory` does, and only then moved to `out`.
    /// On any error nothing is left at `out`.
    public func write(to out: String, force: Bool) throws {
        let output = try OutputPath(out, replacing: force ? .earlier(kind: "model directory", marker: "config.json")
                                                          : .nothing(remedy: "pass --force to replace it, or choose another directory"))
        let configData = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        _ = try ModelConfig.parse(configData, file: "config.json")
        let card = try modelCard()
        try output.writeDirectory { temporary in
            try configData.write(to: URL(fileURLWithPath: temporary + "/config.json"))
            try Safetensors.write(tensors, to: temporary + "/weights.safetensors")
            for (file, tokens) in vocabularies {
                try Vocabulary(tokens: tokens, source: file).write(to: temporary + "/" + file)
            }
            try Data(card.utf8).write(to: URL(fileURLWithPath: temporary + "/MODEL_CARD.md"))
            do { _ = try ModelDirectory(path: temporary) } catch {
                throw ImportError("the imported model does not load: "
                                  + "\(error)".replacingOccurrences(of: temporary, with: output.path))
            }
        }
    }

    private func modelCard() throws -> String {
        var lines = ["# Imported: \(family)", "",
                     "Written by `gradcam import` from the files below; nothing was trained or changed.", "",
                     "| file | role | SHA-256 |", "|---|---|---|"]
        for (role, path) in sources {
            let file = try MappedFile(path: path)
            let digest = SHA256.hash(data: file.bytes).map { String(format: "%02x", $0) }.joined()
            lines.append("| `\((path as NSString).lastPathComponent)` | \(role) | `\(digest)` |")
        }
        lines += ["", "## What was read", ""] + facts.map { "- " + $0 }
        lines += ["", "## Scores", "", "Not measured here: the original training's scores apply to the original code."]
        return lines.joined(separator: "\n") + "\n"
    }
}

/// Why an import failed; the message names the file and what is wrong.
public struct ImportError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

// MARK: shared readers

extension ImportedModel {
    /// A tensor by name from a state dict that must hold it.
    static func require(_ tensors: [String: Tensor], _ name: String, file: String, hint: String) throws -> Tensor {
        guard let t = tensors[name] else { throw ImportError("\(file): no tensor \(name): \(hint)") }
        return t
    }

    /// A JSON file mapping tokens to ids (a word map), as the tokens in id order.
    static func tokens(fromJSON path: String, size: Int, what: String) throws -> [String] {
        let name = (path as NSString).lastPathComponent
        guard let data = FileManager.default.contents(atPath: path) else { throw ImportError("\(path): cannot read the \(what)") }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ImportError("\(name): the \(what) is not a JSON object of word → id")
        }
        var pairs: [(String, Int)] = []
        for (word, id) in object {
            guard let n = id as? Int else { throw ImportError("\(name): the id of \"\(word)\" is not an integer") }
            pairs.append((word, n))
        }
        return try tokens(pairs, size: size, file: name, what: what)
    }

    /// Tokens in id order from (token, id) pairs that must number 0 ..< size exactly.
    static func tokens(_ pairs: [(String, Int)], size: Int, file: String, what: String) throws -> [String] {
        guard pairs.count == size else {
            throw ImportError("\(file): the \(what) has \(pairs.count) entries, but the model's embedding or output has \(size) rows: "
                              + "a vocabulary of another model?")
        }
        var tokens = [String?](repeating: nil, count: size)
        for (word, id) in pairs {
            guard (0..<size).contains(id), tokens[id] == nil else {
                throw ImportError("\(file): \"\(word)\" has id \(id), outside 0…\(size - 1) or taken twice")
            }
            tokens[id] = word
        }
        return tokens.map { $0! }
    }

    /// The (key, int) entries of a pickled dict.
    static func intEntries(_ value: PickleValue, in pickle: Pickle, file: String, what: String) throws -> [(String, Int)] {
        guard case let .dict(d) = value else { throw ImportError("\(file): the \(what) is a \(pickle.typeName(of: value)), not a dict") }
        return try pickle.dicts[d].map { key, id in
            guard let word = key.string, let n = id.int else { throw ImportError("\(file): the \(what) holds \(key) → \(id), not word → id") }
            return (word, n)
        }
    }

    /// The tensors under `value` by state_dict name, without the "module." that
    /// `nn.DataParallel` puts before each name.
    static func stateDict(_ checkpoint: TorchCheckpoint, of value: PickleValue) throws -> [String: Tensor] {
        var tensors: [String: Tensor] = [:]
        for (name, t) in try checkpoint.stateDict(of: value) {
            tensors[name.hasPrefix("module.") ? String(name.dropFirst("module.".count)) : name] = t
        }
        return tensors
    }

    /// How many layers an `nn.LSTM`'s tensors hold (`PREFIX.weight_ih_l0`, `_l1`, …).
    static func lstmLayers(_ tensors: [String: Tensor], prefix: String) -> Int {
        (0..<8).prefix { tensors["\(prefix).weight_ih_l\($0)"] != nil }.count
    }

    /// config.json's `input` for a model fed as torchvision's ImageNet models are: size² and ImageNet mean and std.
    static func imageNetInput(size: Int, resize: String, resizeTo: Int? = nil) -> [String: Any] {
        var input: [String: Any] = ["width": size, "height": size, "resize": resize,
                                    "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]]
        if let resizeTo { input["resize_to"] = resizeTo }
        return input
    }

    /// A checkpoint's top-level keys, for "is this the right family?" messages.
    static func keys(of checkpoint: TorchCheckpoint) -> String {
        guard case let .dict(d) = checkpoint.pickle.root else { return "a \(checkpoint.pickle.typeName(of: checkpoint.pickle.root))" }
        let keys = checkpoint.pickle.dicts[d].compactMap(\.key.string)
        return keys.isEmpty ? "an empty dict" : "a dict of " + keys.prefix(8).map { "'\($0)'" }.joined(separator: ", ")
    }
}

/// torchvision's ResNet, recognised by its tensors.
enum TorchvisionResNet {
    /// A ResNet's modules in `children()` order: `resnet.N` in the tutorials' `nn.Sequential(*children()[:-2])`.
    static let children = ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"]

    /// `original_names` of a ResNet held as `PREFIX.0` … `PREFIX.7`: each child, and PREFIX itself, to `backbone.…`.
    static func originalNames(prefix: String) -> [String: String] {
        var names = [prefix: "backbone"]
        for (i, child) in children.enumerated() { names["\(prefix).\(i)"] = "backbone." + child }
        return names
    }

    /// Renames `PREFIX.N.rest` (children indices) to torchvision's `name.rest`.
    static func fromChildren(_ tensors: [String: Tensor], prefix: String, file: String) throws -> [String: Tensor] {
        var renamed: [String: Tensor] = [:]
        for (name, t) in tensors {
            let parts = name.split(separator: ".", maxSplits: 2).map(String.init)
            guard parts.count == 3, parts[0] == prefix, let index = Int(parts[1]), children.indices.contains(index) else {
                throw ImportError("\(file): \(name) is not a tensor of a ResNet cut before its pool (\(prefix).0 … \(prefix).7)")
            }
            renamed[children[index] + "." + parts[2]] = t
        }
        return renamed
    }

    /// The arch and first-stage width of torchvision ResNet tensors (no prefix).
    static func architecture(_ tensors: [String: Tensor], file: String) throws -> (arch: String, baseWidth: Int) {
        guard let conv1 = tensors["conv1.weight"], conv1.rank == 4 else {
            throw ImportError("\(file): not a torchvision ResNet's state_dict (no conv1.weight among its \(tensors.count) tensors)")
        }
        let bottleneck = tensors["layer1.0.conv3.weight"] != nil
        var blocks: [Int] = []
        for stage in 1...4 {
            let prefix = "layer\(stage)."
            let indices = tensors.keys.compactMap { name -> Int? in
                guard name.hasPrefix(prefix) else { return nil }
                return Int(name.dropFirst(prefix.count).prefix { $0 != "." })
            }
            blocks.append((indices.max() ?? -1) + 1)
        }
        let known: [String: ([Int], Bool)] = [
            "resnet18": ([2, 2, 2, 2], false), "resnet34": ([3, 4, 6, 3], false), "resnet50": ([3, 4, 6, 3], true),
            "resnet101": ([3, 4, 23, 3], true), "resnet152": ([3, 8, 36, 3], true),
        ]
        guard let arch = known.first(where: { $0.value.0 == blocks && $0.value.1 == bottleneck })?.key else {
            throw ImportError("\(file): a ResNet with \(blocks) \(bottleneck ? "bottleneck" : "basic") blocks per stage, "
                              + "not one of torchvision's ResNet-18/34/50/101/152")
        }
        return (arch, conv1.shape[0])
    }
}
