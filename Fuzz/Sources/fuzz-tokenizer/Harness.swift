import Text

/// The text pipeline on raw bytes: strict UTF-8 decoding (which must agree
/// with Swift's own validation), then, when the input holds a NUL byte, the
/// part before it parsed as a vocabulary file and the part after it encoded
/// with it; otherwise the whole text encoded with the ShapesWorld question
/// vocabulary. Encodings must be consistent with their vocabulary.
private let questions = try! Vocabulary(tokens: [
    "<unk>", "a", "above", "an", "are", "below", "blue", "circle", "circles", "color", "diamond", "how",
    "is", "left", "many", "of", "red", "right", "shape", "square", "there", "the", "what", "?", "'", "-",
], source: "questions")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTokenizer(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let strict = try? Normalizer.decodeUTF8(bytes)
    let swift = String(validating: bytes, as: UTF8.self)
    precondition(strict == swift, "decodeUTF8 and Swift disagree on whether the bytes are UTF-8")
    guard let text = strict else { return 0 }

    var vocabulary = questions
    var input = text
    if let nul = text.firstIndex(of: "\0") {
        guard let parsed = try? Vocabulary(parsing: String(text[..<nul]), source: "fuzz.txt") else { return 0 }
        guard parsed.unkID != nil else {
            precondition((try? Tokenizer(vocabulary: parsed)) == nil, "a tokenizer without <unk>")
            return 0
        }
        vocabulary = parsed
        input = String(text[text.index(after: nul)...])
    }
    for maxLength in [nil, 3] as [Int?] {
        let tokenizer = try! Tokenizer(vocabulary: vocabulary, maxLength: maxLength)
        let e = tokenizer.encode(input)
        precondition(e.ids.count == e.tokens.count, "ids and tokens differ in number")
        precondition(e.ids.allSatisfy { vocabulary.token(at: $0) != nil }, "an id outside the vocabulary")
        precondition(e.tokens.allSatisfy { !$0.isEmpty }, "an empty token")
        precondition(e.unknown.count <= e.tokens.count, "more unknown words than words")
        if let maxLength { precondition(e.ids.count <= maxLength, "maxLength not honoured") }
        for (id, token) in zip(e.ids, e.tokens) where id != vocabulary.unkID {
            precondition(vocabulary.token(at: id) == token, "a token mapped to another word's id")
        }
        _ = tokenizer.decode(e.ids + [-1, Int.max, Int.min, vocabulary.count])
    }
    return 0
}
