import Foundation
import Tensor
import TorchFiles

extension ImportedModel {
    /// Cyanogenoid's pytorch-vqa ("Show, Ask, Attend and Answer"): a `*.pth` of
    /// `{'weights': net.state_dict() (with DataParallel's "module."), 'vocab':
    /// {'question': word → id from 1, 'answer': answer → id}, …}`, and the
    /// ResNet-152 the features were extracted with, from a checkpoint of its
    /// own: the Caffe-ported ResNet-152 that preprocess-images.py uses
    /// (`caffe`), or torchvision's. preprocess-images.py's preprocessing: the
    /// shorter side to 512, the central 448×448, ImageNet normalisation.
    public static func pytorchVQA(checkpoint path: String, backbone backbonePath: String,
                                  layout: String) throws -> ImportedModel {
        guard ["caffe", "torchvision"].contains(layout) else {
            throw ImportError("--backbone-layout is caffe (pytorch-vqa's ported ResNet-152) or torchvision, not \(layout)")
        }
        let checkpoint = try TorchCheckpoint(path: path)
        let file = checkpoint.file, pickle = checkpoint.pickle
        guard let weightsValue = pickle.value(at: "weights"), let questionVocabulary = pickle.value(at: "vocab.question"),
              let answerVocabulary = pickle.value(at: "vocab.answer") else {
            throw ImportError("\(file): not a checkpoint of pytorch-vqa (a dict with 'weights' and 'vocab' "
                              + "{'question', 'answer'}); it is \(keys(of: checkpoint))")
        }
        var tensors = try stateDict(checkpoint, of: weightsValue)
        let hint = "not a pytorch-vqa Net?"
        let embedding = try require(tensors, "text.embedding.weight", file: file, hint: hint)
        let vConv = try require(tensors, "attention.v_conv.weight", file: file, hint: hint)
        let xConv = try require(tensors, "attention.x_conv.weight", file: file, hint: hint)
        let lin1 = try require(tensors, "classifier.lin1.weight", file: file, hint: hint)
        let lin2 = try require(tensors, "classifier.lin2.weight", file: file, hint: hint)
        let weightHH = try require(tensors, "text.lstm.weight_hh_l0", file: file, hint: hint)
        let layers = lstmLayers(tensors, prefix: "text.lstm")

        // Question ids start at 1: 0 is pytorch-vqa's padding and unknown word.
        var questionPairs = try intEntries(questionVocabulary, in: pickle, file: file, what: "question vocabulary ('vocab'→'question')")
        guard !questionPairs.contains(where: { $0.1 == 0 }) else {
            throw ImportError("\(file): question word id 0 is taken; pytorch-vqa keeps it for unknown words")
        }
        questionPairs.append(("<unk>", 0))
        let questions = try tokens(questionPairs, size: embedding.shape[0], file: file, what: "question vocabulary (with id 0 for unknown words)")
        let answers = try tokens(try intEntries(answerVocabulary, in: pickle, file: file, what: "answer vocabulary ('vocab'→'answer')"),
                                 size: lin2.shape[0], file: file, what: "answer vocabulary")

        let resnet = try TorchCheckpoint(path: backbonePath)
        var backbone = try resnet.stateDict(of: resnet.pickle.root)
        backbone["fc.weight"] = nil
        backbone["fc.bias"] = nil
        let (arch, baseWidth) = try TorchvisionResNet.architecture(backbone, file: resnet.file)
        let channels = baseWidth * 8 * (backbone["layer1.0.conv3.weight"] != nil ? 4 : 1)
        guard vConv.shape[1] == channels else {
            throw ImportError("\(resnet.file): a \(arch) whose map has \(channels) channels, but \(file)'s attention reads \(vConv.shape[1]): "
                              + "the features were extracted by another network")
        }
        for (name, t) in backbone { tensors["backbone." + name] = t }
        var backboneConfig: [String: Any] = ["arch": arch, "feature": "map", "layout": layout]
        if baseWidth != 64 { backboneConfig["base_width"] = baseWidth }
        let config: [String: Any] = [
            "format": "gradcam-model/1", "task": "vqa",
            "input": imageNetInput(size: 448, resize: "center-crop", resizeTo: 512),
            "backbone": backboneConfig,
            "question_encoder": ["embed": embedding.shape[1], "hidden": weightHH.shape[1], "layers": layers,
                                 "max_length": 26, "embed_activation": "tanh"],
            "fusion": ["kind": "attention", "dim": vConv.shape[0], "glimpses": xConv.shape[0], "hidden": lin1.shape[0],
                       "dropout": 0.5],
            "explain_layer": "backbone.layer4",
        ]
        return ImportedModel(
            family: "Show, Ask, Attend and Answer (Cyanogenoid/pytorch-vqa)",
            config: config, tensors: tensors,
            vocabularies: ["questions.txt": questions, "answers.txt": answers],
            sources: [("checkpoint", path), ("backbone", backbonePath)],
            facts: ["backbone: \(arch) in \(layout == "caffe" ? "the Caffe layout (max pool rounding up, strides on the 1×1 convolutions)" : "torchvision's layout")\(baseWidth != 64 ? " (first stage \(baseWidth) wide)" : ""), cut before its pool",
                    "question: embedding \(embedding.shape[1]), LSTM \(weightHH.shape[1]) × \(layers) layer\(layers == 1 ? "" : "s"), \(questions.count - 1) words (+ id 0, unknown)",
                    "attention: \(vConv.shape[0]) wide, \(xConv.shape[0]) glimpses; classifier \(lin1.shape[0]) → \(answers.count) answers",
                    "input: shorter side to 512, central 448×448, ImageNet mean and std (preprocess-images.py)",
                    "questions: lower-cased, punctuation dropped (pytorch-vqa also drops apostrophes and the last character, "
                        + "assumed a question mark; here hyphenated words are split)",
                    "layers keep pytorch-vqa's module paths (text.*, attention.*, classifier.*) and torchvision's under backbone."])
    }
}
