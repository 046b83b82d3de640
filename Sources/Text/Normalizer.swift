import CUTF8Proc
import Foundation

/// Stage 1 of tokenisation: makes equivalent spellings of a word identical before it is
/// looked up, so "Ｆｕｌｌ", "ﬁnal" or a decomposed "é" match the vocabulary like their
/// plain forms, and a capitalised first word is not `<unk>` (a pitfall of neuraltalk2).
///
/// Steps, in order:
/// 1. control characters (Cc) that are white space (tab, line feed, CR, VT, FF, NEL) become
///    a space; other controls and all format characters (Cf: zero-width joiner and
///    non-joiner, BOM, LRM/RLM and other directional marks, soft hyphen, emoji tags) are
///    removed, which joins the text on either side ("ca\u{200D}t" → "cat");
/// 2. NFKC with full case folding through `utf8proc_map` (STABLE | COMPAT | COMPOSE |
///    CASEFOLD): "ﬁnal Ｆｕｌｌ ÉCOLE" → "final full école", "ß" → "ss",
///    "İ" (U+0130) → "i̇" (i + U+0307 COMBINING DOT ABOVE, which has no precomposed form).
///
/// Removal comes first so that a mark separated from its base by a format character still
/// composes with it.
public struct Normalizer: Sendable {
    public init() {}

    /// Returns the normalised text. A Swift `String` is always valid Unicode (command-line
    /// arguments included), so this cannot fail on its input; raw bytes from a file go
    /// through `decodeUTF8(_:)` first.
    public func normalize(_ text: String) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            if (0x20..<0x7F).contains(scalar.value) {
                bytes.append(UInt8(truncatingIfNeeded: scalar.value))  // printable ASCII: kept as is
                continue
            }
            switch CharacterClass(scalar) {
            case .control:
                if scalar.properties.isWhitespace { bytes.append(0x20) }
            case .format:
                continue
            default:
                UTF8.encode(scalar) { bytes.append($0) }
            }
        }
        if bytes.isEmpty { return "" }

        let options = utf8proc_option_t(
            rawValue: UTF8PROC_STABLE.rawValue | UTF8PROC_COMPAT.rawValue
                | UTF8PROC_COMPOSE.rawValue | UTF8PROC_CASEFOLD.rawValue)
        var mapped: UnsafeMutablePointer<utf8proc_uint8_t>?
        let length = bytes.withUnsafeBufferPointer { buffer in
            utf8proc_map(buffer.baseAddress, utf8proc_ssize_t(buffer.count), &mapped, options)
        }
        defer { free(mapped) }
        // On valid UTF-8 without REJECTNA, utf8proc_map fails only when malloc fails; Swift
        // itself traps on allocation failure, so there is nothing better to return here.
        guard length >= 0, let mapped else {
            preconditionFailure("utf8proc_map failed: \(String(cString: utf8proc_errmsg(length)))")
        }
        return String(decoding: UnsafeBufferPointer(start: mapped, count: length), as: UTF8.self)
    }

    /// Decodes bytes (a file's contents, a request body) that must be UTF-8, rejecting
    /// invalid sequences — overlong forms, surrogates, truncated or stray continuation
    /// bytes, values above U+10FFFF — instead of silently replacing them with U+FFFD, which
    /// would turn a corrupt file into plausible-looking `<unk>` tokens.
    ///
    /// - Throws: `TextError.invalidUTF8(offset:)` with the 0-based offset of the first byte
    ///   of the first invalid sequence.
    public static func decodeUTF8(_ bytes: [UInt8]) throws(TextError) -> String {
        if let offset = firstInvalidUTF8Offset(bytes) { throw TextError.invalidUTF8(offset: offset) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The offset of the first byte of the first invalid UTF-8 sequence, or nil when all
    /// bytes are valid; shared with `Vocabulary`, which turns the offset into a line number.
    static func firstInvalidUTF8Offset(_ bytes: [UInt8]) -> Int? {
        bytes.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return nil }
            var offset = 0
            var codePoint: utf8proc_int32_t = 0
            while offset < buffer.count {
                let width = utf8proc_iterate(base + offset, buffer.count - offset, &codePoint)
                guard width > 0 else { return offset }
                offset += width
            }
            return nil
        }
    }
}
