import Foundation
import Tensor

#if !_endian(little)
#error("NPY writes the host's Float bytes as little-endian <f4; big-endian hosts are not supported")
#endif

/// Why an `.npy` file could not be read.
public struct NPYError: Error, CustomStringConvertible, Equatable, Sendable {
    public let source: String
    public let reason: String

    public var description: String { "\(source) is not a float32 .npy file this toolkit reads: \(reason)" }
}

/// NumPy's `.npy` format, version 1.0, for float32 arrays in C order — what
/// export-format.md promises, so `numpy.load` reads the files as they are.
///
/// The header is a Python dict literal padded with spaces and ended by a
/// newline so that the data starts at a multiple of 64 bytes (NumPy's own
/// rule since 1.x; readers accept any multiple of 16).
public enum NPY {
    static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
    static let alignment = 64

    /// The bytes of a `.npy` file holding `values` with `shape`.
    public static func encode(shape: [Int], values: [Float]) -> [UInt8] {
        precondition(shape.allSatisfy { $0 >= 0 } && shape.reduce(1, *) == values.count,
                     "NPY.encode: \(values.count) values for shape \(shape)")
        return values.withUnsafeBufferPointer { encode(shape: shape, buffer: $0) }
    }

    /// The bytes of a `.npy` file holding `tensor`.
    public static func encode(_ tensor: Tensor) -> [UInt8] {
        tensor.withUnsafeBufferPointer { encode(shape: tensor.shape, buffer: $0) }
    }

    public static func write(_ tensor: Tensor, to path: String) throws {
        try writeFile(path, encode(tensor), exclusive: false)
    }

    public static func write(shape: [Int], values: [Float], to path: String) throws {
        try writeFile(path, encode(shape: shape, values: values), exclusive: false)
    }

    /// Reads a version 1.0 `<f4` C-order file; anything else is an `NPYError`.
    public static func read(_ path: String) throws -> (shape: [Int], values: [Float]) {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw NPYError(source: path, reason: "cannot read it (\(error.localizedDescription))")
        }
        return try decode([UInt8](data), source: path)
    }

    /// Parses `.npy` bytes; `source` names them in errors.
    public static func decode(_ bytes: [UInt8], source: String = "npy data") throws -> (shape: [Int], values: [Float]) {
        func fail(_ reason: String) -> NPYError { NPYError(source: source, reason: reason) }
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else { throw fail("it does not start with \\x93NUMPY") }
        guard bytes[6] == 1, bytes[7] == 0 else { throw fail("format version \(bytes[6]).\(bytes[7]), expected 1.0") }
        let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        guard bytes.count >= 10 + headerLength else { throw fail("the header is cut off") }
        guard let header = String(bytes: bytes[10..<(10 + headerLength)], encoding: .ascii) else {
            throw fail("the header is not ASCII")
        }
        var parser = HeaderParser(text: header)
        guard let dict = parser.dictionary() else { throw fail("cannot parse the header \(header.debugDescription)") }
        guard case .string(let descr)? = dict["descr"], descr == "<f4" else {
            throw fail("dtype \(dict["descr"].map { "\($0)" } ?? "missing"), expected '<f4' (little-endian float32)")
        }
        guard case .bool(false)? = dict["fortran_order"] else { throw fail("not C order (fortran_order must be False)") }
        guard case .tuple(let shape)? = dict["shape"] else { throw fail("the header has no shape tuple") }

        let count = shape.reduce(1, *)
        let body = bytes.count - 10 - headerLength
        guard body == count * 4 else { throw fail("shape \(shape) needs \(count * 4) data bytes, the file has \(body)") }
        var values = [Float](repeating: 0, count: count)
        values.withUnsafeMutableBytes { dst in
            bytes.withUnsafeBytes { src in
                dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[(10 + headerLength)...]))
            }
        }
        return (shape, values)
    }

    private static func encode(shape: [Int], buffer: UnsafeBufferPointer<Float>) -> [UInt8] {
        var bytes = header(shape: shape)
        bytes.reserveCapacity(bytes.count + buffer.count * 4)
        bytes.append(contentsOf: UnsafeRawBufferPointer(buffer))
        return bytes
    }

    /// Magic, version, length and the padded dict: a multiple of 64 bytes.
    static func header(shape: [Int]) -> [UInt8] {
        let dims = shape.map(String.init)
        let tuple = dims.count == 1 ? "(\(dims[0]),)" : "(\(dims.joined(separator: ", ")))"
        var dict = Array("{'descr': '<f4', 'fortran_order': False, 'shape': \(tuple), }".utf8)
        let unpadded = magic.count + 4 + dict.count + 1
        dict += [UInt8](repeating: 0x20, count: (alignment - unpadded % alignment) % alignment) + [0x0A]
        return magic + [1, 0, UInt8(dict.count & 0xFF), UInt8(dict.count >> 8)] + dict
    }
}

/// Just enough of Python's literal syntax for an `.npy` header: a dict of
/// quoted keys to quoted strings, booleans and tuples of integers.
private struct HeaderParser {
    enum Value: CustomStringConvertible {
        case string(String), bool(Bool), tuple([Int])

        var description: String {
            switch self {
            case .string(let s): return "'\(s)'"
            case .bool(let b): return b ? "True" : "False"
            case .tuple(let t): return "\(t)"
            }
        }
    }

    var rest: Substring

    init(text: String) { rest = Substring(text) }

    mutating func dictionary() -> [String: Value]? {
        guard take("{") else { return nil }
        var dict: [String: Value] = [:]
        while !take("}") {
            guard let key = quoted(), take(":"), let value = value() else { return nil }
            dict[key] = value
            guard take(",") || peek("}") else { return nil }
        }
        return rest.allSatisfy(\.isWhitespace) ? dict : nil
    }

    private mutating func value() -> Value? {
        if let s = quoted() { return .string(s) }
        if take("True") { return .bool(true) }
        if take("False") { return .bool(false) }
        guard take("(") else { return nil }
        var dims: [Int] = []
        while !take(")") {
            skipSpaces()
            let digits = rest.prefix(while: \.isASCII).prefix(while: \.isNumber)
            guard let n = Int(digits) else { return nil }
            dims.append(n)
            rest = rest.dropFirst(digits.count)
            guard take(",") || peek(")") else { return nil }
        }
        return .tuple(dims)
    }

    private mutating func quoted() -> String? {
        skipSpaces()
        guard let q = rest.first, q == "'" || q == "\"" else { return nil }
        let body = rest.dropFirst()
        guard let end = body.firstIndex(of: q) else { return nil }
        rest = body[body.index(after: end)...]
        return String(body[..<end])
    }

    private mutating func take(_ token: String) -> Bool {
        skipSpaces()
        guard rest.hasPrefix(token) else { return false }
        rest = rest.dropFirst(token.count)
        return true
    }

    private mutating func peek(_ token: String) -> Bool {
        skipSpaces()
        return rest.hasPrefix(token)
    }

    private mutating func skipSpaces() { rest = rest.drop(while: \.isWhitespace) }
}
