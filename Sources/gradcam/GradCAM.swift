import ArgumentParser
import Explain
import Foundation
import Models
import Tensor

@main
struct GradCAM: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gradcam",
        abstract: "Explain image-captioning and VQA models with Grad-CAM, word by word.",
        discussion: """
            gradcam runs CNN + LSTM captioning and VQA models on the CPU and shows, for every word \
            of a caption or any answer to a question, where in the image the model looked \
            (Selvaraju et al., Grad-CAM, ICCV 2017).

            Examples:
              gradcam caption notebooks-cli/images/scene-1.png --out out/scene-1
              gradcam vqa notebooks-cli/images/scene-1.png \\
                  --question "what color is the circle?"
              gradcam classify notebooks-cli/images/scene-1.png --top 3 --method gradcam++
              gradcam layers Models/shapes-captioner
            """,
        version: "0.1.0",
        subcommands: [Caption.self, BatchExport.self, VQA.self, Classify.self, Sanity.self, Shapes.self, Train.self, Eval.self, BuildVocabulary.self, Import.self, ListModels.self, Layers.self, Serve.self, Check.self]
    )

    /// Exit codes as cli.md gives them: 0, 1 for a runtime failure, 64 for a
    /// usage error; 128 + the signal when interrupted (after a clean stop).
    static func main() {
        startBLAS()
        rejectUnknownCommand()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let interrupted as Interrupted {
            FileHandle.standardError.write(Data("gradcam: \(interrupted)\n".utf8))
            Foundation.exit(128 + interrupted.signal)
        } catch {
            exit(withError: error)
        }
    }
}

extension GradCAM {
    /// A first argument that names no command gets the nearest command's name
    /// (ArgumentParser would say only "Unexpected argument").
    static func rejectUnknownCommand() {
        let arguments = CommandLine.arguments.dropFirst()
        guard let first = arguments.first, !first.hasPrefix("-") else { return }
        let names = configuration.subcommands.map { $0._commandName } + ["help"]
        guard !names.contains(first) else { return }
        let nearest = closest(to: first, in: names, count: 1)[0]
        FileHandle.standardError.write(Data("Error: no command \"\(first)\"; did you mean \"\(nearest)\"? (gradcam --help lists them)\n".utf8))
        Foundation.exit(ExitCode.validationFailure.rawValue)
    }
}

/// A quick self-test of the native libraries and the backward engine.
struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check that the native libraries and the backward engine work on this machine.")

    func run() throws {
        var rng = SeededGenerator(seed: 1)
        let x = Tensor.randn([1, 3, 32, 32], using: &rng)
        let w = Tensor.randn([8, 3, 3, 3], std: 0.2, using: &rng)
        let activation = x.conv2d(weight: w, padding: 1).relu().tracked()
        let score = activation.globalAvgPool2d().sum()
        let grad = try gradients(of: score, withRespectTo: [activation])[0]
        // d(mean over 32×32, summed over 8 channels)/dA is 1/1024 everywhere.
        let expected: Float = 1.0 / 1024
        let worst = grad.values.map { abs($0 - expected) }.max() ?? .infinity
        print("conv2d 3→8 on 32×32 through OpenBLAS: output \(activation.shape)")
        print("gradient of the pooled score at the activation: \(grad.values[0]) (expected \(expected))")
        guard worst < 1e-7 else { throw CLIError("the gradient is off by \(worst)") }
        print("ok")
    }
}
