import Foundation
import Models

/// config.json: JSON syntax, field types, and the validation of sizes, names
/// and combinations. A config that parses must survive the encode/parse round
/// trip that saving a model does, unchanged.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(bytes: data, count: size)
    guard let config = try? ModelConfig.parse(bytes, file: "config.json") else { return 0 }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    let again = try! ModelConfig.parse(try! encoder.encode(config), file: "config.json")
    precondition(again == config, "config.json changed in an encode/parse round trip")
    return 0
}
