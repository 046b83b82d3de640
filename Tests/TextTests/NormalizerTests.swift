import XCTest
import Text

/// The scalars of a string, so tests compare exact code points rather than Swift's
/// canonical-equivalence `==` (which would call a composed and a decomposed "é" equal).
func scalars(_ text: String) -> [UInt32] { text.unicodeScalars.map(\.value) }

final class NormalizerTests: XCTestCase {
    func testNormalizationTable() {
        let cases: [(name: String, input: String, expected: String)] = [
            ("design example", "ﬁnal Ｆｕｌｌ ÉCOLE", "final full \u{E9}cole"),
            ("composed é stays composed", "\u{E9}", "\u{E9}"),
            ("decomposed é is composed", "e\u{301}", "\u{E9}"),
            ("upper decomposed É", "E\u{301}COLE", "\u{E9}cole"),
            ("ligature ﬁ", "\u{FB01}", "fi"),
            ("full-width letters and digits", "ＲＥＤ　２", "red 2"),
            ("German ß case-folds to ss", "Straße", "strasse"),
            ("capital sharp s ẞ", "\u{1E9E}", "ss"),
            ("Turkish dotted İ gives i + U+0307", "İstanbul", "i\u{307}stanbul"),
            ("Turkish dotless ı is kept", "ı", "ı"),
            ("Greek final sigma folds to σ", "ΣΑΣ ς", "σασ σ"),
            ("superscript two", "x²", "x2"),
            ("ellipsis", "…", "..."),
            ("non-breaking and ideographic spaces", "a\u{A0}b\u{3000}c", "a b c"),
            ("tab and line breaks become spaces", "a\tb\nc\r\nd\u{85}e", "a b c  d e"),
            ("other controls are removed", "a\u{0}b\u{7}c\u{1B}d", "abcd"),
            ("zero-width joiner inside a word", "ca\u{200D}t", "cat"),
            ("zero-width non-joiner", "ca\u{200C}t", "cat"),
            ("BOM", "\u{FEFF}cat", "cat"),
            ("LRM and RLM", "\u{200E}cat\u{200F}", "cat"),
            ("soft hyphen", "col\u{AD}our", "colour"),
            ("mark composes across a removed joiner", "e\u{200D}\u{301}", "\u{E9}"),
            ("emoji ZWJ sequence loses its joiner", "👩\u{200D}💻", "👩💻"),
            ("lone combining mark is kept", "\u{301}", "\u{301}"),
            ("Arabic unchanged", "مرحبا", "مرحبا"),
            ("Hebrew unchanged", "שלום", "שלום"),
            ("empty", "", ""),
            ("only format characters", "\u{200D}\u{FEFF}", ""),
        ]
        let normalizer = Normalizer()
        for (name, input, expected) in cases {
            XCTAssertEqual(scalars(normalizer.normalize(input)), scalars(expected), name)
        }
    }

    func testDecodeValidUTF8() throws {
        XCTAssertEqual(try Normalizer.decodeUTF8([]), "")
        XCTAssertEqual(try Normalizer.decodeUTF8(Array("héllo 🙂".utf8)), "héllo 🙂")
    }

    func testDecodeRejectsInvalidUTF8WithOffset() {
        let cases: [(name: String, bytes: [UInt8], offset: Int)] = [
            ("0xFF byte", [0x61, 0xFF], 1),
            ("stray continuation byte", [0x61, 0x62, 0x80], 2),
            ("overlong slash", [0xC0, 0xAF], 0),
            ("overlong three-byte", [0x61, 0xE0, 0x80, 0xAF], 1),
            ("UTF-16 surrogate", [0x61, 0xED, 0xA0, 0x80], 1),
            ("truncated three-byte at end", [0x61, 0x62, 0xE2, 0x82], 2),
            ("lead byte followed by ASCII", [0xC3, 0x41], 0),
            ("above U+10FFFF", [0xF4, 0x90, 0x80, 0x80], 0),
            ("valid é then invalid", [0xC3, 0xA9, 0x20, 0xFE], 3),
        ]
        for (name, bytes, offset) in cases {
            XCTAssertThrowsError(try Normalizer.decodeUTF8(bytes), name) { error in
                XCTAssertEqual(error as? TextError, .invalidUTF8(offset: offset), name)
            }
        }
        XCTAssertEqual(TextError.invalidUTF8(offset: 7).description, "invalid UTF-8 at byte offset 7")
    }
}
