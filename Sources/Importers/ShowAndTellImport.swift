import Foundation
import Tensor
import TorchFiles

extension ImportedModel {
    /// yunjey's pytorch-tutorial image_captioning: the encoder's and decoder's
    /// state_dicts as train.py saves them (`encoder-*.ckpt`/`.pkl`: a ResNet's
    /// children()[:-1] as `resnet.N`, then `linear` and BatchNorm1d `bn`;
    /// `decoder-*`: `embed`, `lstm`, `linear`) and the pickled `Vocabulary`
    /// (its `word2idx`). sample.py's preprocessing (224×224, ImageNet
    /// normalisation) and decoding: the LSTM's output after the image gives the
    /// first token (trained to be `<start>`), every prediction is fed back, 20 at most.
    public static func showAndTell(encoder encoderPath: String, decoder decoderPath: String, vocabulary vocabularyPath: String) throws -> ImportedModel {
        let encoderFile = try TorchCheckpoint(path: encoderPath), decoderFile = try TorchCheckpoint(path: decoderPath)
        let encoder = try encoderFile.stateDict(of: encoderFile.pickle.root)
        let decoder = try decoderFile.stateDict(of: decoderFile.pickle.root)
        let encoderHint = "not an EncoderCNN state_dict of the tutorial (resnet.N, linear, bn)?"
        let linearWeight = try require(encoder, "linear.weight", file: encoderFile.file, hint: encoderHint)
        let linearBias = try require(encoder, "linear.bias", file: encoderFile.file, hint: encoderHint)
        let bn = try ["weight", "bias", "running_mean", "running_var"].map {
            try require(encoder, "bn." + $0, file: encoderFile.file, hint: encoderHint)
        }
        guard linearWeight.rank == 2, bn.allSatisfy({ $0.shape == [linearWeight.shape[0]] }), linearBias.shape == bn[0].shape else {
            throw ImportError("\(encoderFile.file): linear \(linearWeight.shape) and bn \(bn.map(\.shape)) do not fit together")
        }
        let decoderHint = "not a DecoderRNN state_dict of the tutorial (embed, lstm, linear)?"
        let embedding = try require(decoder, "embed.weight", file: decoderFile.file, hint: decoderHint)
        let weightHH = try require(decoder, "lstm.weight_hh_l0", file: decoderFile.file, hint: decoderHint)
        let head = try require(decoder, "linear.weight", file: decoderFile.file, hint: decoderHint)
        let layers = lstmLayers(decoder, prefix: "lstm")

        let resnet = try TorchvisionResNet.fromChildren(encoder.filter { $0.key.hasPrefix("resnet.") }, prefix: "resnet",
                                                        file: encoderFile.file)
        let (arch, baseWidth) = try TorchvisionResNet.architecture(resnet, file: encoderFile.file)

        let vocabulary = try TorchCheckpoint(path: vocabularyPath)
        guard let word2idx = vocabulary.pickle.value(at: "word2idx") else {
            throw ImportError("\(vocabulary.file): no word2idx: not the tutorial's pickled Vocabulary "
                              + "(it is a \(vocabulary.pickle.typeName(of: vocabulary.pickle.root)))")
        }
        let words = try tokens(intEntries(word2idx, in: vocabulary.pickle, file: vocabulary.file, what: "word2idx"),
                               size: embedding.shape[0], file: vocabulary.file, what: "vocabulary")
        guard head.shape[0] == embedding.shape[0] else {
            throw ImportError("\(decoderFile.file): linear scores \(head.shape[0]) words but embed has \(embedding.shape[0])")
        }
        for special in ["<start>", "<end>", "<unk>"] where !words.contains(special) {
            throw ImportError("\(vocabulary.file): the vocabulary has no \(special); the tutorial's has <pad>, <start>, <end> and <unk>")
        }

        var tensors: [String: Tensor] = [:]
        for (name, t) in resnet { tensors["backbone." + name] = t }
        (tensors["image_proj.weight"], tensors["image_proj.bias"]) = foldBatchNorm(linearWeight, linearBias, bn)
        tensors["embed.weight"] = embedding
        for (name, t) in decoder where name.hasPrefix("lstm.") { tensors[name] = t }
        tensors["head.weight"] = head
        tensors["head.bias"] = try require(decoder, "linear.bias", file: decoderFile.file, hint: decoderHint)

        var backboneConfig: [String: Any] = ["arch": arch, "feature": "avgpool"]
        if baseWidth != 64 { backboneConfig["base_width"] = baseWidth }
        let originalNames = TorchvisionResNet.originalNames(prefix: "encoder.resnet").merging(
            ["encoder.resnet.8": "backbone.avgpool", "encoder.linear": "image_proj", "decoder.embed": "embed",
             "decoder.lstm": "lstm", "decoder.linear": "head"]) { _, new in new }
        let config: [String: Any] = [
            "format": "gradcam-model/1", "task": "captioning",
            "input": imageNetInput(size: 224, resize: "stretch"),
            "backbone": backboneConfig,
            "decoder": ["kind": "show-and-tell", "embed": embedding.shape[1], "hidden": weightHH.shape[1], "layers": layers,
                        "max_length": 20, "image_activation": "none", "image_step_predicts": true],
            "explain_layer": "backbone.layer4",
            "original_names": originalNames,
        ]
        return ImportedModel(
            family: "Show and Tell (yunjey/pytorch-tutorial, image_captioning)",
            config: config, tensors: tensors, vocabularies: ["vocab.txt": words],
            sources: [("encoder", encoderPath), ("decoder", decoderPath), ("vocabulary", vocabularyPath)],
            facts: ["encoder: \(arch)\(baseWidth != 64 ? " (first stage \(baseWidth) wide)" : ""), pooled, linear → \(linearWeight.shape[0]) "
                        + "with BatchNorm1d folded into it (eval mode, eps 1e-5)",
                    "decoder: embedding \(embedding.shape[1]), LSTM \(weightHH.shape[1]) × \(layers) layer\(layers == 1 ? "" : "s"), \(words.count) words",
                    "decoding as sample.py: the output after the image gives the first token (trained to be <start>, shown when "
                        + "predicted), each prediction is fed back, 20 tokens at most",
                    "input: 224×224 stretched (sample.py resizes with Lanczos; here bilinear), ImageNet mean and std",
                    "layers keep the tutorial's module paths: encoder.resnet.0 … encoder.resnet.8, encoder.linear (with bn), decoder.*"])
    }

    /// Linear then BatchNorm1d in eval mode as one Linear: W' = s·W, b' = s·(b − μ) + β,
    /// s = γ / √(σ² + 1e-5), in Double.
    static func foldBatchNorm(_ weight: Tensor, _ bias: Tensor, _ bn: [Tensor]) -> (Tensor, Tensor) {
        let (gamma, beta, mean, variance) = (bn[0].values, bn[1].values, bn[2].values, bn[3].values)
        let rows = weight.shape[0], columns = weight.shape[1], w = weight.values, b = bias.values
        let scale = (0..<rows).map { Double(gamma[$0]) / (Double(variance[$0]) + 1e-5).squareRoot() }
        let folded = (0..<(rows * columns)).map { Float(scale[$0 / columns] * Double(w[$0])) }
        let shifted = (0..<rows).map { Float(scale[$0] * (Double(b[$0]) - Double(mean[$0])) + Double(beta[$0])) }
        return (Tensor(shape: weight.shape, values: folded), Tensor(shape: bias.shape, values: shifted))
    }
}
