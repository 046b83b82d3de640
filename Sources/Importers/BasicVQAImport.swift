import Foundation
import Tensor
import TorchFiles

extension ImportedModel {
    /// tbmoon's basic_vqa ("deeper LSTM Q + norm I"): `model-epoch-*.ckpt`, a dict
    /// `{'epoch', 'state_dict'}` of VqaModel (a torchvision VGG through fc7 as
    /// `img_encoder.model`, `img_encoder.fc`, `qst_encoder.word2vec/lstm/fc`,
    /// `fc1`, `fc2`), and the vocabulary files its data loader reads (one token
    /// per line). Its preprocessing: 224×224, ImageNet normalisation; questions
    /// padded with `<pad>` to 30 tokens, which its LSTM reads.
    public static func basicVQA(checkpoint path: String, questions questionsPath: String, answers answersPath: String) throws -> ImportedModel {
        let checkpoint = try TorchCheckpoint(path: path)
        let file = checkpoint.file
        guard let stateValue = checkpoint.pickle.value(at: "state_dict") else {
            throw ImportError("\(file): not a checkpoint of basic_vqa (a dict with 'epoch' and 'state_dict'); it is \(keys(of: checkpoint))")
        }
        let state = try stateDict(checkpoint, of: stateValue)
        let renames = [("img_encoder.model.", "backbone."), ("img_encoder.fc.", "image_proj."), ("qst_encoder.word2vec.", "embed."),
                       ("qst_encoder.lstm.", "lstm."), ("qst_encoder.fc.", "question_proj."), ("fc1.", "classifier.0."),
                       ("fc2.", "classifier.2.")]
        var tensors: [String: Tensor] = [:]
        for (name, t) in state {
            guard let (from, to) = renames.first(where: { name.hasPrefix($0.0) }) else {
                throw ImportError("\(file): \(name) is not a tensor of basic_vqa's VqaModel (img_encoder, qst_encoder, fc1, fc2)")
            }
            tensors[to + name.dropFirst(from.count)] = t
        }
        let hint = "not basic_vqa's VqaModel?"
        let embedding = try require(tensors, "embed.weight", file: file, hint: hint)
        let weightHH = try require(tensors, "lstm.weight_hh_l0", file: file, hint: hint)
        let imageProj = try require(tensors, "image_proj.weight", file: file, hint: hint)
        let fc1 = try require(tensors, "classifier.0.weight", file: file, hint: hint)
        let fc2 = try require(tensors, "classifier.2.weight", file: file, hint: hint)
        let layers = lstmLayers(tensors, prefix: "lstm")
        let backbone = try vggBackbone(tensors, file: file)
        let vgg = "\(backbone["arch"]!)" + (backbone["batch_norm"] as? Bool == true ? " with batch norm" : "")

        let questions = try lines(of: questionsPath, size: embedding.shape[0], what: "question vocabulary")
        let answers = try lines(of: answersPath, size: fc2.shape[0], what: "answer vocabulary")
        for special in ["<pad>", "<unk>"] where !questions.contains(special) {
            throw ImportError("\((questionsPath as NSString).lastPathComponent): no \(special); basic_vqa's question vocabulary begins <pad>, <unk>")
        }
        let config: [String: Any] = [
            "format": "gradcam-model/1", "task": "vqa",
            "input": imageNetInput(size: 224, resize: "stretch"),
            "backbone": backbone,
            "question_encoder": ["embed": embedding.shape[1], "hidden": weightHH.shape[1], "layers": layers,
                                 "max_length": 30, "pad_to": 30, "embed_activation": "tanh"],
            "fusion": ["kind": "basic-vqa", "dim": imageProj.shape[0], "hidden": fc1.shape[0]],
            "original_names": ["img_encoder.model": "backbone", "img_encoder.fc": "image_proj", "qst_encoder.word2vec": "embed",
                               "qst_encoder.lstm": "lstm", "qst_encoder.fc": "question_proj", "fc1": "classifier.0",
                               "fc2": "classifier.2"],
        ]
        return ImportedModel(
            family: "Deeper LSTM Q + norm I (tbmoon/basic_vqa)",
            config: config, tensors: tensors, vocabularies: ["questions.txt": questions, "answers.txt": answers],
            sources: [("checkpoint", path), ("question vocabulary", questionsPath), ("answer vocabulary", answersPath)],
            facts: ["image: \(vgg) through fc7, img_encoder.fc → \(imageProj.shape[0]), "
                        + "over its length (held constant, as its .detach() makes it)",
                    "question: embedding \(embedding.shape[1]), tanh, LSTM \(weightHH.shape[1]) × \(layers) layer\(layers == 1 ? "" : "s") "
                        + "reading the question padded with <pad> to 30 tokens; [h, c] of each layer, tanh, qst_encoder.fc",
                    "answers: fc2(tanh(fc1(tanh(image ⊙ question)))), \(answers.count) answers",
                    "input: 224×224 stretched, ImageNet mean and std (resize_images.py, data_loader.py)",
                    "questions: lower-cased words; basic_vqa also keeps punctuation and apostrophes as tokens of their own, "
                        + "here dropped unless in the vocabulary (\"what's\" reads as \"whats\")",
                    "layers keep basic_vqa's module paths: img_encoder.model.features.N, img_encoder.fc, qst_encoder.*, fc1, fc2"])
    }

    /// A torchvision VGG's backbone config from its tensors (prefix `backbone.`): its
    /// name where the widths are torchvision's, else `vgg` with the `cfg` the
    /// convolutions' widths and index gaps give (a pool where a gap is one longer)
    /// and the classifier's width.
    static func vggBackbone(_ tensors: [String: Tensor], file: String) throws -> [String: Any] {
        let prefix = "backbone.features."
        let convolutions = tensors.compactMap { name, t -> (index: Int, width: Int)? in
            guard name.hasPrefix(prefix), name.hasSuffix(".weight"), t.rank == 4,
                  let index = Int(name.dropFirst(prefix.count).prefix { $0 != "." }) else { return nil }
            return (index, t.shape[0])
        }.sorted { $0.index < $1.index }
        let batchNorm = tensors.keys.contains { $0.hasPrefix(prefix) && $0.hasSuffix(".running_mean") }
        guard let first = convolutions.first, first.index == 0 else { throw ImportError("\(file): no VGG features.0 convolution") }
        let step = batchNorm ? 3 : 2
        var cfg: [Any] = []
        for (k, conv) in convolutions.enumerated() {
            cfg.append(conv.width)
            if k + 1 < convolutions.count {
                switch convolutions[k + 1].index - conv.index {
                case step: break
                case step + 1: cfg.append("M")
                default: throw ImportError("\(file): VGG features.\(conv.index) and .\(convolutions[k + 1].index) are not a torchvision VGG's layout")
                }
            }
        }
        cfg.append("M")
        let hidden = tensors["backbone.classifier.0.weight"]?.shape[0] ?? 4096
        let standard: [String: String] = [
            "64,M,128,M,256,256,M,512,512,M,512,512,M": "vgg11", "64,64,M,128,128,M,256,256,M,512,512,M,512,512,M": "vgg13",
            "64,64,M,128,128,M,256,256,256,M,512,512,512,M,512,512,512,M": "vgg16",
            "64,64,M,128,128,M,256,256,256,256,M,512,512,512,512,M,512,512,512,512,M": "vgg19",
        ]
        if hidden == 4096, let arch = standard[cfg.map { "\($0)" }.joined(separator: ",")] {
            return ["arch": arch, "batch_norm": batchNorm, "feature": "fc7"]
        }
        return ["arch": "vgg", "cfg": cfg, "batch_norm": batchNorm, "feature": "fc7", "hidden": hidden]
    }

    /// A vocabulary file of one token per line that must hold `size` tokens.
    static func lines(of path: String, size: Int, what: String) throws -> [String] {
        let name = (path as NSString).lastPathComponent
        guard let data = FileManager.default.contents(atPath: path) else { throw ImportError("\(path): cannot read the \(what)") }
        guard let text = String(data: data, encoding: .utf8) else { throw ImportError("\(name): the \(what) is not UTF-8 text") }
        var tokens = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        if tokens.last == "" { tokens.removeLast() }
        return try self.tokens(tokens.enumerated().map { ($1, $0) }, size: size, file: name, what: what)
    }
}
