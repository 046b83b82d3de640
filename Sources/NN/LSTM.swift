import Tensor

/// PyTorch's nn.LSTM (batch first in this API): L layers of hidden size H, gate
/// order i, f, g, o, parameters `weight_ih_l{k}` [4H, in], `weight_hh_l{k}` [4H, H],
/// `bias_ih_l{k}`, `bias_hh_l{k}` [4H]; zero initial state.
public final class LSTM: Module {
    public let inputSize: Int, hiddenSize: Int, layers: Int
    let weightIH: [Parameter], weightHH: [Parameter], biasIH: [Parameter], biasHH: [Parameter]

    /// Hidden and cell states of every layer, each [B, H].
    public struct State {
        public var h: [Tensor]
        public var c: [Tensor]

        public init(h: [Tensor], c: [Tensor]) {
            self.h = h
            self.c = c
        }

        /// The rows `rows` of every state (beam search keeps the surviving beams).
        public func selecting(rows: [Int]) -> State {
            State(h: h.map { $0.indexSelect(rows) }, c: c.map { $0.indexSelect(rows) })
        }
    }

    public init(inputSize: Int, hiddenSize: Int, layers: Int = 1, initializer: inout Initializer) {
        precondition(layers >= 1, "LSTM: layers must be at least 1")
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.layers = layers
        var wih: [Parameter] = [], whh: [Parameter] = [], bih: [Parameter] = [], bhh: [Parameter] = []
        // PyTorch: every parameter U(−1/√H, 1/√H).
        let bound = 1 / Float(hiddenSize).squareRoot()
        for k in 0..<layers {
            let inF = k == 0 ? inputSize : hiddenSize
            wih.append(Parameter(initializer.uniform([4 * hiddenSize, inF], bound: bound)))
            whh.append(Parameter(initializer.uniform([4 * hiddenSize, hiddenSize], bound: bound)))
            bih.append(Parameter(initializer.uniform([4 * hiddenSize], bound: bound)))
            bhh.append(Parameter(initializer.uniform([4 * hiddenSize], bound: bound)))
        }
        weightIH = wih; weightHH = whh; biasIH = bih; biasHH = bhh
        super.init()
        for k in 0..<layers {
            register("weight_ih_l\(k)", wih[k])
            register("weight_hh_l\(k)", whh[k])
            register("bias_ih_l\(k)", bih[k])
            register("bias_hh_l\(k)", bhh[k])
        }
    }

    public func zeroState(batch: Int) -> State {
        let z = Tensor.zeros([batch, hiddenSize])
        return State(h: Array(repeating: z, count: layers), c: Array(repeating: z, count: layers))
    }

    /// One time step for a batch of inputs [B, inputSize]: the top layer's
    /// output [B, H] and the new state. Decoding calls this step by step.
    public func step(_ x: Tensor, _ state: State) -> (output: Tensor, state: State) {
        var input = x
        var next = state
        for k in 0..<layers {
            let gates = input.linear(weight: weightIH[k].value, bias: biasIH[k].value)
                + state.h[k].linear(weight: weightHH[k].value, bias: biasHH[k].value)
            (next.h[k], next.c[k]) = cell(gates, state.c[k])
            input = next.h[k]
        }
        return (input, next)
    }

    /// A whole sequence [B, T, inputSize] from zero state (teacher forcing):
    /// the top layer's outputs [B, T, H] and the final state. Each layer's input
    /// projections for all T steps are one product, and its recurrence one op
    /// (`Tensor.lstmLayer`). With `lengths` (non-decreasing), row r runs its
    /// first lengths[r] steps only; its later outputs and final state are zero.
    public func sequence(_ xs: Tensor, lengths: [Int]? = nil) -> (outputs: Tensor, state: State) {
        precondition(xs.rank == 3 && xs.shape[2] == inputSize,
                     "LSTM: input \(xs.shape) must be [B, T, \(inputSize)]")
        let b = xs.shape[0], steps = xs.shape[1]
        guard steps > 0 else { return (Tensor.zeros([b, 0, hiddenSize]), zeroState(batch: b)) }
        var state = zeroState(batch: b)
        var layerInput = xs
        for k in 0..<layers {
            let projected = layerInput.reshaped([b * steps, layerInput.shape[2]])
                .linear(weight: weightIH[k].value, bias: biasIH[k].value)
                .reshaped([b, steps, 4 * hiddenSize])
            let hc = Tensor.lstmLayer(projected: projected, weightHH: weightHH[k].value, biasHH: biasHH[k].value,
                                      lengths: lengths)
            let last = hc.slice(axis: 1, (steps - 1)..<steps).reshaped([b, 2 * hiddenSize])
            state.h[k] = last.slice(axis: 1, 0..<hiddenSize)
            state.c[k] = last.slice(axis: 1, hiddenSize..<(2 * hiddenSize))
            layerInput = hc.slice(axis: 2, 0..<hiddenSize)
        }
        return (layerInput, state)
    }

    private func cell(_ gates: Tensor, _ c: Tensor) -> (Tensor, Tensor) {
        let hc = Tensor.lstmCell(gates: gates, cell: c)
        return (hc.slice(axis: 1, 0..<hiddenSize), hc.slice(axis: 1, hiddenSize..<(2 * hiddenSize)))
    }
}

/// PyTorch's nn.LSTMCell: one step of one layer, parameters `weight_ih`
/// [4H, in], `weight_hh` [4H, H], `bias_ih`, `bias_hh` [4H] (no layer suffix).
/// Attention decoders call it step by step, as their input depends on h.
public final class LSTMCell: Module {
    public let hiddenSize: Int
    let weightIH: Parameter, weightHH: Parameter, biasIH: Parameter, biasHH: Parameter

    public init(inputSize: Int, hiddenSize: Int, initializer: inout Initializer) {
        self.hiddenSize = hiddenSize
        let bound = 1 / Float(hiddenSize).squareRoot()
        weightIH = Parameter(initializer.uniform([4 * hiddenSize, inputSize], bound: bound))
        weightHH = Parameter(initializer.uniform([4 * hiddenSize, hiddenSize], bound: bound))
        biasIH = Parameter(initializer.uniform([4 * hiddenSize], bound: bound))
        biasHH = Parameter(initializer.uniform([4 * hiddenSize], bound: bound))
        super.init()
        register("weight_ih", weightIH)
        register("weight_hh", weightHH)
        register("bias_ih", biasIH)
        register("bias_hh", biasHH)
    }

    /// (h, c) after one step on inputs [B, in] from (h, c), each [B, H].
    public func step(_ x: Tensor, h: Tensor, c: Tensor) -> (h: Tensor, c: Tensor) {
        let gates = x.linear(weight: weightIH.value, bias: biasIH.value) + h.linear(weight: weightHH.value, bias: biasHH.value)
        let hc = Tensor.lstmCell(gates: gates, cell: c)
        return (hc.slice(axis: 1, 0..<hiddenSize), hc.slice(axis: 1, hiddenSize..<(2 * hiddenSize)))
    }
}
