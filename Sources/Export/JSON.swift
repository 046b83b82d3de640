import Foundation

/// A JSON value whose objects keep their keys in the order given, so the
/// manifest reads in the order export-format.md lists its fields.
///
/// The one style of every JSON the commands print or write for a reader
/// (manifests, `--json`, `eval`, `sanity.json`): two-space indents, `"key": value`,
/// arrays of scalars on one line, slashes unescaped. Only `index.jsonl`, one
/// record a line by definition, is written compact.
public enum JSON {
    case bool(Bool)
    case int(Int)
    /// Written in Swift's shortest round-trip form (−0.021, not −0.0209999997);
    /// NaN and ±infinity have no JSON form and are written as `null`.
    case number(Float)
    /// A Double, for measures summed over many items; written the same way.
    case double(Double)
    case string(String)
    case null
    case array([JSON])
    case object([(String, JSON)])

    /// A value built in Swift of dictionaries, arrays, strings, numbers,
    /// booleans and NSNull, objects' keys sorted. Not for what JSONSerialization
    /// parsed: there a 0 or 1 is an NSNumber that also reads as a boolean.
    public init(_ value: Any) {
        switch value {
        case let v as Bool: self = .bool(v)
        case let v as Int: self = .int(v)
        case let v as Float: self = .number(v)
        case let v as Double: self = .double(v)
        case let v as String: self = .string(v)
        case let v as [Any]: self = .array(v.map(JSON.init))
        case let v as [String: Any]: self = .object(v.keys.sorted().map { ($0, JSON(v[$0]!)) })
        default: self = .null
        }
    }

    /// `value` (see `init(_:)`) in the one style, ending with a newline.
    public static func text(_ value: Any) -> String { JSON(value).rendered() }

    /// Pretty-printed with two-space indents; arrays of scalars stay on one line.
    public func rendered() -> String {
        var out = ""
        write(to: &out, indent: "")
        return out + "\n"
    }

    private func write(to out: inout String, indent: String) {
        switch self {
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .number(let f): out += f.isFinite ? "\(f)" : "null"
        case .double(let d): out += d.isFinite ? "\(d)" : "null"
        case .null: out += "null"
        case .string(let s): JSON.quote(s, into: &out)
        case .array(let items) where items.allSatisfy(\.isScalar):
            out += "[" + items.map { item -> String in
                var s = ""
                item.write(to: &s, indent: indent)
                return s
            }.joined(separator: ", ") + "]"
        case .array(let items):
            out += "[\n"
            for (i, item) in items.enumerated() {
                out += indent + "  "
                item.write(to: &out, indent: indent + "  ")
                out += i + 1 < items.count ? ",\n" : "\n"
            }
            out += indent + "]"
        case .object(let members) where members.isEmpty:
            out += "{}"
        case .object(let members):
            out += "{\n"
            for (i, (key, value)) in members.enumerated() {
                out += indent + "  "
                JSON.quote(key, into: &out)
                out += ": "
                value.write(to: &out, indent: indent + "  ")
                out += i + 1 < members.count ? ",\n" : "\n"
            }
            out += indent + "}"
        }
    }

    private var isScalar: Bool {
        switch self {
        case .array, .object: return false
        default: return true
        }
    }

    /// RFC 8259 string escaping; non-ASCII text is kept as UTF-8.
    private static func quote(_ s: String, into out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}
