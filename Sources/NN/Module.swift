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
    /// path — or hands over the output an earlier pass over the same input
    /// left in the context's memo, without running the module again.
    public func callAsFunction(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        ctx.observe(path, ctx.reused(path) ?? forward(x, ctx))
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

    /// Outputs of earlier inference passes over the same input, reused below
    /// the memo's layer.
    public let memo: ForwardMemo?
    /// Whether this pass has produced the memo's layer: from then on it
    /// computes everything itself.
    private var pastLayer = false

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

    /// The output an earlier pass over the same input left for the module at
    /// `path`, while this pass is below the memo's layer; nil otherwise.
    public func reused(_ path: String) -> Tensor? {
        pastLayer ? nil : memo?.output(path, for: ObjectIdentifier(self))
    }

    func observe(_ path: String, _ output: Tensor) -> Tensor {
        if let memo, !pastLayer {
            memo.remember(path, output, by: ObjectIdentifier(self))
            pastLayer = path == memo.layer
        }
        let y = replacing[path].map { $0(output) } ?? output
        if capturing.contains(path) { captured[path] = y }
        return y
    }
}

/// The outputs of modules that several inference passes over one input (an
/// image, and a question) share, so the network below an explained layer runs
/// once: beam search or a classifier's logits compute the backbone, and the
/// explanation's pass — and any later scoring pass — takes those outputs from
/// here until it reaches the layer, where it goes on by itself (with the
/// layer's output repeated and tracked).
///
/// Kept are the outputs a pass walks past on its way to `layer`, produced
/// before it: the children of the root and of each of the layer's ancestors,
/// under their paths (a fused convolution's under its last module's). The
/// ancestors themselves are never served whole, so each pass still reaches
/// the layer inside them. A pass is never served what it produced itself,
/// and a path produced twice in one pass (a block's one ReLU module, used
/// after each of its convolutions) is never served at all.
public final class ForwardMemo {
    public let layer: String
    private var outputs: [String: (output: Tensor, pass: ObjectIdentifier)] = [:]
    /// Paths produced more than once in a pass: their outputs are ambiguous.
    private var repeated: Set<String> = []
    /// "" and every ancestor path of the layer ("backbone", "backbone.layer4", …).
    private let ancestors: Set<String>
    /// The input the kept outputs are of.
    private var input: AnyObject?

    public init(layer: String) {
        self.layer = layer
        var ancestors: Set<String> = [""]
        var prefix = ""
        for part in layer.split(separator: ".").dropLast() {
            prefix = prefix.isEmpty ? String(part) : prefix + "." + part
            ancestors.insert(prefix)
        }
        self.ancestors = ancestors
    }

    /// Makes the memo hold outputs of passes over `input`: another input than
    /// the last one empties it.
    public func use(for input: AnyObject) {
        guard input !== self.input else { return }
        outputs = [:]
        repeated = []
        self.input = input
    }

    /// Whether the memo holds outputs of passes over `input`.
    public func isFor(_ input: AnyObject) -> Bool { input === self.input }

    /// The output at `path` that a pass other than `pass` produced.
    func output(_ path: String, for pass: ObjectIdentifier) -> Tensor? {
        guard let kept = outputs[path], kept.pass != pass else { return nil }
        return kept.output
    }

    func remember(_ path: String, _ output: Tensor, by pass: ObjectIdentifier) {
        guard !output.requiresGrad, !ancestors.contains(path), ancestors.contains(Self.parent(of: path)),
              !repeated.contains(path) else { return }
        if let kept = outputs[path], kept.pass == pass, kept.output !== output {
            repeated.insert(path)
            outputs[path] = nil
            return
        }
        outputs[path] = (output, pass)
    }

    private static func parent(of path: String) -> String {
        path.lastIndex(of: ".").map { String(path[..<$0]) } ?? ""
    }
}
