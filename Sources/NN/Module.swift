import Tensor

/// A tensor a module owns: a weight (trained) or a buffer such as batch norm's
/// running statistics (loaded and saved, never trained).
public final class Parameter {
    public var value: Tensor
    public let isBuffer: Bool
    /// Whether a checkpoint may leave it out — PyTorch's `load_state_dict`
    /// fills in batch norm's `num_batches_tracked`, which older versions and
    /// many converted checkpoints lack. It is then zero.
    public let isOptional: Bool

    public init(_ value: Tensor, isBuffer: Bool = false, isOptional: Bool = false) {
        self.value = value
        self.isBuffer = isBuffer
        self.isOptional = isOptional
    }
}

/// A network layer or a network: named parameters, named submodules, and a
/// forward function. Names follow PyTorch's `state_dict()` and
/// `named_modules()`, so `features.0.weight` or `layer4.1.bn2.running_var`
/// name the same tensors here and there.
open class Module {
    /// The module's dotted path from the root model ("backbone.features.29");
    /// empty for the root. Set by `assignPaths()`.
    public private(set) var path = ""
    public private(set) var children: [(name: String, module: Module)] = []
    public private(set) var ownParameters: [(name: String, parameter: Parameter)] = []

    public init() {}

    /// Registers a submodule under `name` and returns it.
    @discardableResult
    public func add<M: Module>(_ name: String, _ module: M) -> M {
        children.append((name, module))
        return module
    }

    /// Registers a parameter (or buffer) under `name`.
    public func register(_ name: String, _ p: Parameter) {
        ownParameters.append((name, p))
    }

    /// The computation. Subclasses override it; callers use `callAsFunction`,
    /// which lets the context observe the output.
    open func forward(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        fatalError("\(type(of: self)) does not implement forward")
    }

    /// Runs the module and hands its output to the context under the module's
    /// path — or, when the context's memo has run this module on this very
    /// input before, hands over that output without running it again.
    public func callAsFunction(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        if let memo = ctx.memo {
            if let y = memo.output(of: path, for: x) { return ctx.observe(path, y) }
            let y = forward(x, ctx)
            memo.remember(path, x, y)
            return ctx.observe(path, y)
        }
        return ctx.observe(path, forward(x, ctx))
    }

    /// Sets every descendant's dotted path; call once on the root after building it.
    public func assignPaths(prefix: String = "") {
        path = prefix
        for (name, child) in children {
            child.assignPaths(prefix: prefix.isEmpty ? name : prefix + "." + name)
        }
    }

    /// Every parameter and buffer with its dotted name, in registration order.
    public func namedParameters(prefix: String = "") -> [(name: String, parameter: Parameter)] {
        let own = ownParameters.map { (prefix + $0.name, $0.parameter) }
        return own + children.flatMap { $0.module.namedParameters(prefix: prefix + $0.name + ".") }
    }

    /// Every module with its dotted name, the root first as "".
    public func namedModules(prefix: String = "") -> [(name: String, module: Module)] {
        [(prefix, self)] + children.flatMap { name, child in
            child.namedModules(prefix: prefix.isEmpty ? name : prefix + "." + name)
        }
    }

    /// Trainable parameters (buffers excluded).
    public var trainableParameters: [Parameter] {
        namedParameters().map(\.parameter).filter { !$0.isBuffer }
    }
}

/// What one forward pass may do besides computing: train or infer, capture
/// named outputs, and replace a named output (Grad-CAM makes the explained
/// activation a tracked leaf, repeated once per target, there).
///
/// A context belongs to one pass; nothing global is touched, so passes on
/// other threads with their own contexts do not interfere.
public final class ForwardContext {
    public let training: Bool
    /// Whether training updates batch norm's running statistics. Of the passes
    /// that share one step's batch on several threads only the first does, so
    /// they never write the same buffer (PyTorch's DistributedDataParallel
    /// likewise keeps the first replica's statistics).
    public let updatesStatistics: Bool
    public var rng: SeededGenerator
    /// Outputs kept by path, for the paths listed in `capturing`.
    public private(set) var captured: [String: Tensor] = [:]
    private let capturing: Set<String>
    private let replacing: [String: (Tensor) -> Tensor]

    /// Outputs of earlier inference passes on the same image, reused.
    public let memo: ForwardMemo?

    public init(training: Bool = false, updatesStatistics: Bool = true, seed: UInt64 = 0,
                capturing: Set<String> = [], replacing: [String: (Tensor) -> Tensor] = [:], memo: ForwardMemo? = nil) {
        precondition(!(training && memo != nil), "ForwardContext: a training pass cannot reuse outputs")
        self.memo = memo
        self.training = training
        self.updatesStatistics = updatesStatistics
        self.rng = SeededGenerator(seed: seed)
        self.capturing = capturing
        self.replacing = replacing
    }

    /// Whether the output at `path` is captured or replaced: such an output
    /// must exist on its own, so it cannot be fused into the next op.
    public func observes(_ path: String) -> Bool {
        capturing.contains(path) || replacing[path] != nil
    }

    func observe(_ path: String, _ output: Tensor) -> Tensor {
        let y = replacing[path].map { $0(output) } ?? output
        if capturing.contains(path) { captured[path] = y }
        return y
    }
}

/// The outputs of modules that several inference passes over one image share,
/// so the network below an explained layer runs once per image: beam search
/// (or a classifier's logits) computes the backbone, and the explanation's pass
/// — and any later scoring pass — finds those outputs here instead of
/// computing them again.
///
/// A module's output is reused when the module is called on the very tensor
/// it was called on before (tensors are immutable, so the output is the
/// same). Only the modules an explanation at `layer` walks past are kept —
/// the children of `layer`'s ancestors, and the root's — and its ancestors
/// are never served whole, so the layer is still reached, and replaced, inside
/// them; everything above the layer gets new (repeated, tracked) inputs and
/// runs as before.
public final class ForwardMemo {
    private struct Entry { let input: Tensor; let output: Tensor }
    private var entries: [String: Entry] = [:]
    /// "" and every ancestor path of the layer ("backbone", "backbone.layer4", …).
    private let ancestors: Set<String>

    public init(layer: String) {
        var ancestors: Set<String> = [""]
        var prefix = ""
        for part in layer.split(separator: ".").dropLast() {
            prefix = prefix.isEmpty ? String(part) : prefix + "." + part
            ancestors.insert(prefix)
        }
        self.ancestors = ancestors
    }

    func output(of path: String, for input: Tensor) -> Tensor? {
        guard let e = entries[path], e.input === input else { return nil }
        return e.output
    }

    func remember(_ path: String, _ input: Tensor, _ output: Tensor) {
        guard !ancestors.contains(path), ancestors.contains(Self.parent(of: path)), !input.requiresGrad else { return }
        entries[path] = Entry(input: input, output: output)
    }

    private static func parent(of path: String) -> String {
        path.lastIndex(of: ".").map { String(path[..<$0]) } ?? ""
    }
}
