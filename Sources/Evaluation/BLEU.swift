import Foundation

/// Corpus BLEU (Papineni et al. 2002) as the COCO caption evaluation computes
/// it: clipped n-gram precisions over the whole corpus, their geometric mean
/// up to n = 4, and a brevity penalty against the closest reference length.
public enum BLEU {
    /// BLEU-`order` of candidate token lists against their references.
    public static func corpus(candidates: [[String]], references: [[[String]]], order: Int = 4) -> Double {
        precondition(candidates.count == references.count, "BLEU: one reference list per candidate")
        var matches = [Double](repeating: 0, count: order), totals = [Double](repeating: 0, count: order)
        var candidateLength = 0.0, referenceLength = 0.0
        for (c, refs) in zip(candidates, references) {
            candidateLength += Double(c.count)
            // The reference length closest to the candidate's (shorter on ties).
            let lengths = refs.map(\.count).sorted()
            let closest = lengths.min { abs($0 - c.count) < abs($1 - c.count) } ?? 0
            referenceLength += Double(closest)
            for n in 1...order {
                let counts = ngrams(c, n)
                var maxRef: [ArraySlice<String>: Int] = [:]
                for r in refs { for (g, k) in ngrams(r, n) { maxRef[g] = max(maxRef[g] ?? 0, k) } }
                matches[n - 1] += Double(counts.reduce(0) { $0 + min($1.value, maxRef[$1.key] ?? 0) })
                totals[n - 1] += Double(max(c.count - n + 1, 0))
            }
        }
        guard candidateLength > 0, !matches.contains(0) else { return 0 }
        let logPrecision = zip(matches, totals).reduce(0.0) { $0 + log($1.0 / $1.1) } / Double(order)
        let brevity = candidateLength < referenceLength ? exp(1 - referenceLength / candidateLength) : 1
        return brevity * exp(logPrecision)
    }

    private static func ngrams(_ tokens: [String], _ n: Int) -> [ArraySlice<String>: Int] {
        var counts: [ArraySlice<String>: Int] = [:]
        guard tokens.count >= n else { return counts }
        for i in 0...(tokens.count - n) { counts[tokens[i..<(i + n)], default: 0] += 1 }
        return counts
    }
}
