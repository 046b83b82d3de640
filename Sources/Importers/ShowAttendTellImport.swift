import Foundation
import Tensor
import TorchFiles

extension ImportedModel {
    /// sgrvinod's "a-PyTorch-Tutorial-to-Image-Captioning": `BEST_checkpoint_*.pth.tar`,
    /// a dict whose 'encoder' and 'decoder' are pickled modules (Encoder: a ResNet cut
    /// before its pool as `resnet.0` … `resnet.7`, then `adaptive_pool`;
    /// DecoderWithAttention), and `WORDMAP_*.json`. caption.py's preprocessing:
    /// 256×256 (stretched), ImageNet normalisation; its beam search stops after 50 steps.
    public static func showAttendTell(checkpoint path: String, wordMap: String) throws -> ImportedModel {
        let checkpoint = try TorchCheckpoint(path: path)
        let file = checkpoint.file, pickle = checkpoint.pickle
        guard let encoder = pickle.value(at: "encoder"), let decoder = pickle.value(at: "decoder"),
              case .object = encoder, case .object = decoder else {
            throw ImportError("\(file): not a checkpoint of sgrvinod's Show, Attend and Tell tutorial (a dict whose 'encoder' "
                              + "and 'decoder' are pickled modules); it is \(keys(of: checkpoint))")
        }
        let backbone = try TorchvisionResNet.fromChildren(checkpoint.stateDict(of: encoder), prefix: "resnet", file: file)
        let (arch, baseWidth) = try TorchvisionResNet.architecture(backbone, file: file)
        let pool: Int
        switch pickle.value(at: "encoder.adaptive_pool.output_size") {
        case let .int(s)?: pool = s
        case let .sequence(s)? where pickle.sequences[s].count == 2 && pickle.sequences[s][0] == pickle.sequences[s][1]:
            guard let s = pickle.sequences[s][0].int else { fallthrough }
            pool = s
        default:
            throw ImportError("\(file): encoder.adaptive_pool.output_size is missing or not square; the tutorial's is (14, 14)")
        }

        let tensors = try checkpoint.stateDict(of: decoder)
        let hint = "not a DecoderWithAttention of the tutorial?"
        let encoderAtt = try require(tensors, "attention.encoder_att.weight", file: file, hint: hint)
        let embedding = try require(tensors, "embedding.weight", file: file, hint: hint)
        let weightHH = try require(tensors, "decode_step.weight_hh", file: file, hint: hint)
        let vocabularySize = embedding.shape[0]
        let words = try tokens(fromJSON: wordMap, size: vocabularySize, what: "word map")
        for special in ["<start>", "<end>", "<unk>"] where !words.contains(special) {
            throw ImportError("\((wordMap as NSString).lastPathComponent): the word map has no \(special); the tutorial's has <start>, <end>, <unk> and <pad>")
        }
        let dropout = pickle.value(at: "decoder.dropout.p")?.float ?? 0.5

        var weights = tensors
        for (name, t) in backbone { weights["backbone." + name] = t }
        var backboneConfig: [String: Any] = ["arch": arch, "feature": "map", "adaptive_pool": pool]
        if baseWidth != 64 { backboneConfig["base_width"] = baseWidth }
        let originalNames = TorchvisionResNet.originalNames(prefix: "encoder.resnet").merging(
            ["decoder.": "", "encoder.adaptive_pool": "adaptive_pool"]) { _, new in new }
        let config: [String: Any] = [
            "format": "gradcam-model/1", "task": "captioning",
            "input": imageNetInput(size: 256, resize: "stretch"),
            "backbone": backboneConfig,
            "decoder": ["kind": "show-attend-tell", "attention": "additive", "embed": embedding.shape[1],
                        "hidden": weightHH.shape[1], "attention_dim": encoderAtt.shape[0], "layers": 1,
                        "max_length": 50, "dropout": dropout],
            "explain_layer": "backbone.layer4",
            "original_names": originalNames,
        ]
        return ImportedModel(
            family: "Show, Attend and Tell (sgrvinod/a-PyTorch-Tutorial-to-Image-Captioning)",
            config: config, tensors: weights, vocabularies: ["vocab.txt": words],
            sources: [("checkpoint", path), ("word map", wordMap)],
            facts: ["encoder: \(arch)\(baseWidth != 64 ? " (first stage \(baseWidth) wide)" : ""), AdaptiveAvgPool2d(\(pool)) → \(pool)×\(pool) cells of \(encoderAtt.shape[1]) channels",
                    "decoder: embedding \(embedding.shape[1]), LSTMCell \(weightHH.shape[1]), attention \(encoderAtt.shape[0]), dropout \(dropout), \(vocabularySize) words",
                    "input: 256×256 stretched, ImageNet mean and std (the tutorial's caption.py); captions stop after 50 words",
                    "layers keep the tutorial's module paths: encoder.resnet.0 … encoder.resnet.7, encoder.adaptive_pool, decoder.*"])
    }
}
