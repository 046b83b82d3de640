import ArgumentParser
import Foundation
import Importers

/// `gradcam import FAMILY …`: a checkpoint of another codebase as a model directory.
struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Turn a PyTorch checkpoint of a known captioning or VQA codebase into a model directory.",
        discussion: """
            The files are read as PyTorch wrote them (torch.save's zip or legacy layout, pickled \
            modules and vocabularies) without running Python and without executing anything in them: \
            only tensors, dicts and plain values are rebuilt, and a file that names a function such as \
            os.system is refused. The model directory written (config.json, weights.safetensors, the \
            vocabulary files, MODEL_CARD.md with the source files' SHA-256) is used by caption, vqa, \
            layers, export and eval unchanged; `gradcam layers` shows the original module paths, which \
            --layer accepts.

            Examples:
              gradcam import show-attend-tell --checkpoint BEST_checkpoint.pth.tar \\
                  --word-map WORDMAP.json --out models/sat
              gradcam import show-and-tell --encoder encoder-5-3000.pkl \\
                  --decoder decoder-5-3000.pkl --vocab vocab.pkl --out models/nic
              gradcam import pytorch-vqa --checkpoint logs/vqa.pth \\
                  --backbone resnet152.pth --backbone-layout caffe --out models/vqa
              gradcam import deeper-lstm-vqa --checkpoint model-epoch-30.ckpt \\
                  --questions vocab_questions.txt --answers vocab_answers.txt \\
                  --out models/basic-vqa
            """,
        subcommands: [ShowAttendTell.self, ShowAndTell.self, PyTorchVQA.self, DeeperLSTMVQA.self])

    struct Output: ParsableArguments {
        @Option(help: "The model directory to write.") var out: String
        @Flag(help: "Replace --out if it is an earlier model directory.") var force = false
    }

    struct ShowAttendTell: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show-attend-tell",
            abstract: "sgrvinod/a-PyTorch-Tutorial-to-Image-Captioning: Show, Attend and Tell on a ResNet.")

        @Option(help: "BEST_checkpoint_*.pth.tar as train.py saves it (pickled encoder and decoder).") var checkpoint: String
        @Option(help: "WORDMAP_*.json as create_input_files.py writes it.") var wordMap: String
        @OptionGroup var output: Output

        func run() throws {
            try write(ImportedModel.showAttendTell(checkpoint: checkpoint, wordMap: wordMap), output)
        }
    }

    struct ShowAndTell: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show-and-tell",
            abstract: "yunjey/pytorch-tutorial image_captioning: Show and Tell on a ResNet-152.")

        @Option(help: "The encoder's state_dict as train.py saves it (encoder-*.ckpt or .pkl).") var encoder: String
        @Option(help: "The decoder's state_dict (decoder-*.ckpt or .pkl).") var decoder: String
        @Option(help: "vocab.pkl as build_vocab.py pickles it.") var vocab: String
        @OptionGroup var output: Output

        func run() throws {
            try write(ImportedModel.showAndTell(encoder: encoder, decoder: decoder, vocabulary: vocab), output)
        }
    }

    struct PyTorchVQA: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "pytorch-vqa",
            abstract: "Cyanogenoid/pytorch-vqa: Show, Ask, Attend and Answer, with the ResNet its features came from.")

        @Option(help: "The *.pth train.py saves ({'weights', 'vocab', …}).") var checkpoint: String
        @Option(help: "The ResNet's own checkpoint (a state_dict with torchvision's names, e.g. resnet152-*.pth).") var backbone: String
        @Option(help: ArgumentHelp("caffe: the ResNet-152 ported from Caffe that pytorch-vqa's preprocess-images.py uses "
                                   + "(ruotianluo/pytorch-resnet); torchvision: torchvision's. The two hold the same names and "
                                   + "shapes, so only you know which one made your features.", valueName: "caffe|torchvision"))
        var backboneLayout: String
        @OptionGroup var output: Output

        func run() throws {
            try write(ImportedModel.pytorchVQA(checkpoint: checkpoint, backbone: backbone, layout: backboneLayout), output)
        }
    }

    struct DeeperLSTMVQA: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "deeper-lstm-vqa",
            abstract: "tbmoon/basic_vqa: deeper LSTM Q + norm I on a VGG-19.")

        @Option(help: "model-epoch-*.ckpt as train.py saves it ({'epoch', 'state_dict'}).") var checkpoint: String
        @Option(help: "vocab_questions.txt (one word per line).") var questions: String
        @Option(help: "vocab_answers.txt (one answer per line).") var answers: String
        @OptionGroup var output: Output

        func run() throws {
            try write(ImportedModel.basicVQA(checkpoint: checkpoint, questions: questions, answers: answers), output)
        }
    }

    static func write(_ model: ImportedModel, _ output: Output) throws {
        try model.write(to: output.out, force: output.force)
        print("imported \(model.family) into \(output.out)")
        for fact in model.facts { print("  " + fact) }
    }
}
