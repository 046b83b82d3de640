import TorchFiles

/// The PyTorch checkpoint reader: zip layout, legacy stream, pickles. No
/// input may crash it, make it allocate more than the file holds, or hang;
/// whatever loads must give every tensor it names, walking any path.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTorch(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let checkpoint = try? TorchCheckpoint(data: Array(UnsafeBufferPointer(start: data, count: size)), file: "fuzz.pt") else {
        return 0
    }
    let pickle = checkpoint.pickle
    for (name, index) in pickle.tensorNames(under: pickle.root) {
        if let t = try? checkpoint.tensor(index, name: name) {
            precondition(t.count == t.shape.reduce(1, *), "\(name): count \(t.count) for shape \(t.shape)")
            _ = t.values.reduce(0, +)
        }
    }
    for index in pickle.tensors.indices { _ = try? checkpoint.tensor(index, name: "t") }
    _ = pickle.value(at: "state.0.a.b")
    _ = pickle.value(at: "encoder.resnet.0.weight")
    return 0
}
