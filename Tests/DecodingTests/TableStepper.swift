import Decoding
import Foundation
import Tensor

/// Token ids of the test vocabulary: `<pad>`, `<start>`, `<end>`, `<unk>`, a, b, c.
enum Token {
    static let pad = 0, start = 1, end = 2, unk = 3, a = 4, b = 5, c = 6
    static let count = 7
    static let specials = SpecialTokens(end: end, masked: [pad, start], unknown: unk)
}

/// A step function given by a table: `table(prefix)` is the log-probabilities of the word
/// after `prefix`. It records the rows of every `step` call, to check that beams run as one batch.
final class TableStepper: CaptionStepper {
    let specialTokens: SpecialTokens
    let table: ([Int]) -> [Float]
    private(set) var batchSizes: [Int] = []

    init(specialTokens: SpecialTokens = Token.specials, table: @escaping ([Int]) -> [Float]) {
        self.specialTokens = specialTokens
        self.table = table
    }

    /// A hand-made table: listed prefixes get their row, any other prefix `otherwise`.
    convenience init(_ rows: [[Int]: [Float]], otherwise: [Float]) {
        self.init { rows[$0] ?? otherwise }
    }

    func start() -> (logProbs: [Float], state: [[Int]]) { (table([]), [[]]) }

    func step(words: [Int], parents: [Int], state: [[Int]]) -> (logProbs: [[Float]], state: [[Int]]) {
        batchSizes.append(words.count)
        let prefixes = zip(parents, words).map { state[$0] + [$1] }
        return (prefixes.map(table), prefixes)
    }
}

/// Log-probabilities over the test vocabulary: the listed probabilities, and what is left
/// shared evenly by the other tokens.
func distribution(_ probabilities: [Int: Float]) -> [Float] {
    let rest = max(1 - probabilities.values.reduce(0, +), 1e-9) / Float(Token.count - probabilities.count)
    return (0..<Token.count).map { logf(probabilities[$0] ?? rest) }
}

/// A random table for `seed`: each prefix gets its own log-softmax of Gaussian logits.
func randomTable(seed: UInt64) -> ([Int]) -> [Float] {
    { prefix in
        var h = seed &* 0x9E37_79B9_7F4A_7C15
        for t in prefix { h = (h ^ UInt64(t + 1)) &* 0x1000_0000_01B3 }
        var rng = SeededGenerator(seed: h)
        let logits = Tensor.randn([1, Token.count], std: 2, using: &rng)
        return logits.logSoftmax(axis: 1).values
    }
}

/// Greedy decoding written out plainly: the reference that a beam of 1 must equal.
func referenceGreedy(_ table: ([Int]) -> [Float], maxLength: Int) -> (words: [Int], logProb: Float) {
    var words: [Int] = [], sum: Float = 0
    while words.count < maxLength {
        let row = table(words)
        var best = Token.end
        for t in [Token.end, Token.unk, Token.a, Token.b, Token.c] where row[t] > row[best] || (row[t] == row[best] && t < best) {
            best = t
        }
        sum += row[best]
        if best == Token.end { break }
        words.append(best)
    }
    return (words, sum)
}

/// The best caption by exhaustive enumeration: every word sequence up to `maxLength`,
/// closed by `<end>`, or cut at `maxLength`.
func bruteForceBest(_ table: ([Int]) -> [Float], maxLength: Int) -> Float {
    var best = -Float.infinity
    func visit(_ prefix: [Int], _ sum: Float) {
        if prefix.count == maxLength { best = max(best, sum); return }
        let row = table(prefix)
        best = max(best, sum + row[Token.end])
        for t in [Token.unk, Token.a, Token.b, Token.c] { visit(prefix + [t], sum + row[t]) }
    }
    visit([], 0)
    return best
}
