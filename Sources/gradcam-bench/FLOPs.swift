// FLOP counts, 2 per multiply-add, of the products that dominate: convolutions
// and linear layers, read off a forward that captures every module's output;
// LSTM steps are added from the formula (the LSTM's products are not modules).
// Elementwise work (batch norm, ReLU, pooling, softmax) is not counted.

import Models
import NN
import Tensor

struct LayerFLOPs {
    /// FLOPs of each convolution or linear module, in the order modules are listed.
    let byModule: [(path: String, flops: Double)]

    var total: Double { byModule.reduce(0) { $0 + $1.flops } }

    /// Counts the modules a forward through `root` runs.
    init(root: Module, run: (ForwardContext) -> Void) {
        let modules = root.namedModules().filter { !$0.name.isEmpty }
        let ctx = ForwardContext(capturing: Set(modules.map(\.name)))
        run(ctx)
        byModule = modules.compactMap { name, m in
            guard let y = ctx.captured[name] else { return nil }
            if let c = m as? Conv2d {
                let w = c.weight.value.shape
                return (name, 2 * Double(y.count) * Double(w[1] * w[2] * w[3]))
            }
            if let l = m as? Linear {
                return (name, 2 * Double(y.count) * Double(l.weight.value.shape[1]))
            }
            return nil
        }
    }

    /// FLOPs of the modules listed after `layer`'s subtree: the part above the explained layer.
    func above(_ layer: String) -> Double {
        guard let i = byModule.firstIndex(where: { $0.path == layer || $0.path.hasPrefix(layer + ".") }) else { return 0 }
        return byModule[i...].filter { !($0.path == layer || $0.path.hasPrefix(layer + ".")) }.reduce(0) { $0 + $1.flops }
    }

    /// FLOPs of the modules under `prefix`.
    func under(_ prefix: String) -> Double {
        byModule.filter { $0.path.hasPrefix(prefix) }.reduce(0) { $0 + $1.flops }
    }
}

/// One LSTM step of one row: the gate products 4H×(in + H).
func lstmStepFLOPs(input: Int, hidden: Int) -> Double { 2 * Double(4 * hidden * (input + hidden)) }

/// FLOP counts of the captioner scenarios (batch-1 CNN from the module count).
struct CaptionFLOPs {
    let cnn: Double, f: Int, e: Int, h: Int, v: Int, n: Int

    /// The decoder's forward for `rows` rows: image_proj, n + 1 LSTM steps, the head at n steps.
    func decoderForward(rows: Int) -> Double {
        Double(rows) * (2 * Double(f * e) + Double(n + 1) * lstmStepFLOPs(input: e, hidden: h) + Double(n) * 2 * Double(h * v))
    }

    /// The backward of word k's score to the explained layer alone: the head's row at
    /// step k + 1, the hidden-state products of steps k + 1 … 1, the input product of
    /// step 0 and image_proj.
    func wordBackward(_ k: Int) -> Double {
        2 * Double(h * v) + Double(k + 1) * 2 * Double(4 * h * h) + 2 * Double(4 * h * e) + 2 * Double(e * f)
    }

    /// The least work a per-word Grad-CAM needs: the CNN and the decoder once, then
    /// one backward per word down to the layer.
    var required: Double { cnn + decoderForward(rows: 1) + (0..<n).reduce(0) { $0 + wordBackward($1) } }

    /// What the one-pass batching executes: the decoder forward at batch n, then a
    /// backward at batch n through the head at every step and every LSTM step.
    var executedOnePass: Double {
        let rows = Double(n)
        let backward = rows * (Double(n) * 2 * Double(h * v) + Double(n + 1) * 2 * Double(4 * h * h)
            + 2 * Double(4 * h * e) + 2 * Double(e * f))
        return cnn + decoderForward(rows: n) + backward
    }

    /// Guided Grad-CAM adds, per word, a backward through the whole CNN to the image:
    /// each convolution's input gradient costs what its forward costs.
    var guidedRequired: Double { required + Double(n) * cnn }
}
