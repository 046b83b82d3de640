import ArgumentParser
import Tensor

@main
struct GradCAM: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gradcam",
        abstract: "Explain image-captioning and VQA models with Grad-CAM, word by word.",
        version: "0.1.0"
    )

    func run() throws {
        print("gradcam 0.1.0")
    }
}
