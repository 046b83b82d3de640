import Foundation
import NN
import Tensor

/// The safetensors reader: header length, JSON header, dtypes, shapes and
/// offsets. Whatever parses must hold exactly the elements its shape says,
/// and loading it into a module must either succeed or throw.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(bytes: data, count: size)
    guard let tensors = try? Safetensors.parse(bytes, file: "fuzz.safetensors") else { return 0 }
    for (name, t) in tensors {
        precondition(t.count == t.shape.reduce(1, *), "\(name): count \(t.count) for shape \(t.shape)")
        _ = t.values.reduce(0, +)  // every element is readable
    }
    var initializer = Initializer.forLoading
    let layer = Linear(3, 2, initializer: &initializer)
    if (try? layer.load(tensors, file: "fuzz.safetensors")) != nil {
        precondition(layer.weight.value.shape == [2, 3], "loaded a weight of the wrong shape")
    }
    return 0
}
