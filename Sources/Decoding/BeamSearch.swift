import Foundation

/// One complete caption found by search.
public struct Hypothesis: Equatable, Sendable {
    /// The words, without `<start>` and `<end>`.
    public let words: [Int]
    /// log p(word_t | words before it, image), one per word.
    public let tokenLogProbs: [Float]
    /// The log-probability of the `<end>` that closed the caption; nil when it was cut at
    /// the maximum length.
    public let endLogProb: Float?
    /// The sum of `tokenLogProbs` and `endLogProb`.
    public let logProb: Float
    /// What search ranks by: `logProb`, or its length-normalised form.
    public let score: Float
    /// True when the caption emitted `<end>`; false when it was cut at the maximum length.
    public let finished: Bool

    /// Result order: higher score, then fewer words, then smaller ids word by word, so equal
    /// scores come out the same way on every run.
    func ranks(before other: Hypothesis) -> Bool {
        if score != other.score { return score > other.score }
        if words.count != other.words.count { return words.count < other.words.count }
        return words.lexicographicallyPrecedes(other.words)
    }
}

/// Beam search over a `CaptionStepper`; a beam of 1 is greedy decoding.
///
/// Each step ranks every allowed next word of every alive hypothesis by summed
/// log-probability — higher first; on equal sums the lower token id, then the lower parent
/// beam (beams are numbered in rank order). `<start>` and `<pad>` are never proposed;
/// `<unk>` is unless `allowUnknown` is false. Among the top k candidates, those that are
/// `<end>` are frozen as finished: they never grow again and their score is final. The
/// best k candidates that are not `<end>` stay alive (so the beam stays full) and go to the
/// stepper as one batch. A hypothesis reaching `maxLength` words is finished as truncated,
/// without another step.
///
/// Stopping rule: search stops when k hypotheses are complete and the best alive one can
/// no longer beat the k-th best of them — its summed log-probability (or, normalised, that
/// sum divided by (maxLength + 1)^alpha, the most any continuation could reach) is at most
/// that score; or when none is alive. This is exact because log-probabilities are ≤ 0, so
/// continuing only lowers a sum. With k = 1 and `.sum` scoring it is greedy decoding.
///
/// Results come best score first; equal scores, fewer words first, then smaller ids.
///
/// Beam search is a heuristic: only a beam wide enough to keep every candidate is exact.
/// A narrower one can prune the greedy path and end below greedy decoding (see the tests).
public struct BeamSearch: Sendable {
    /// How complete hypotheses of different lengths compare.
    public enum Scoring: Equatable, Sendable {
        /// The plain sum of log-probabilities, as neuraltalk2. Favours short captions,
        /// since every word costs probability.
        case sum
        /// sum / length^alpha, where length counts the words plus `<end>` when emitted
        /// (a truncated caption: its words). alpha = 1 is the mean log-probability per
        /// token; 0 is the plain sum.
        case lengthNormalized(alpha: Float = 1)

        func score(sum: Float, length: Int) -> Float {
            switch self {
            case .sum: return sum
            case .lengthNormalized(let alpha): return sum / powf(Float(length), alpha)
            }
        }
    }

    /// How many hypotheses are kept alive at each step (k).
    public let beamSize: Int
    /// The most words a caption may have, `<end>` not counted.
    public let maxLength: Int
    public let scoring: Scoring
    /// Whether `<unk>` may be proposed. neuraltalk2 allowed it; a caption of `<unk>`s is
    /// honest about the model but useless to read, so a caller may turn it off.
    public let allowUnknown: Bool

    /// - Throws: `CaptionError` for a beam size or maximum length below 1, or a negative
    ///   or non-finite alpha.
    public init(beamSize: Int, maxLength: Int, scoring: Scoring = .sum, allowUnknown: Bool = true) throws(CaptionError) {
        guard beamSize >= 1 else { throw .invalidBeamSize(beamSize) }
        guard maxLength >= 1 else { throw .invalidMaxLength(maxLength) }
        if case .lengthNormalized(let alpha) = scoring, !(alpha.isFinite && alpha >= 0) {
            throw .invalidAlpha(alpha)
        }
        self.beamSize = beamSize
        self.maxLength = maxLength
        self.scoring = scoring
        self.allowUnknown = allowUnknown
    }

    /// A hypothesis still growing.
    struct Beam {
        var words: [Int] = []
        var logProbs: [Float] = []
        var sum: Float = 0
    }

    /// One way to extend a beam: `parent`'s words followed by `token`.
    struct Candidate {
        var sum: Float
        var logProb: Float
        var token: Int
        var parent: Int

        /// Higher sum first; ties by lower token id, then lower parent beam.
        func ranks(before other: Candidate) -> Bool {
            if sum != other.sum { return sum > other.sum }
            if token != other.token { return token < other.token }
            return parent < other.parent
        }
    }

    /// The best `n` complete hypotheses (at most the beam size), best first. Fewer are
    /// returned only when the vocabulary has fewer possible captions.
    ///
    /// The stepper must return log-probabilities (all ≤ 0): the stopping rule relies on it.
    /// - Throws: `CaptionError` for `n` outside 1…beamSize, special tokens outside the
    ///   model's outputs, or a step returning the wrong shape or NaN.
    public func search<S: CaptionStepper>(_ stepper: S, best n: Int = 1) throws(CaptionError) -> [Hypothesis] {
        guard (1...beamSize).contains(n) else { throw .invalidResultCount(requested: n, beamSize: beamSize) }
        let specials = stepper.specialTokens
        var (first, state) = stepper.start()
        let v = first.count
        try check([first], rows: 1, vocabularySize: v, step: 0)
        try specials.validate(vocabularySize: v)
        var allowed = [Bool](repeating: true, count: v)
        for id in specials.masked { allowed[id] = false }
        if !allowUnknown, let unknown = specials.unknown { allowed[unknown] = false }
        allowed[specials.end] = true

        var alive = [Beam()]
        var rows = [first]
        var complete: [Hypothesis] = []
        for step in 1... {
            var next: [Beam] = [], parents: [Int] = []
            for (rank, c) in best(2 * beamSize, of: rows, extending: alive, allowed: allowed).enumerated() {
                let parent = alive[c.parent]
                if c.token == specials.end {
                    if rank < beamSize {
                        complete.append(hypothesis(parent.words, parent.logProbs, end: c.logProb, sum: c.sum))
                    }
                } else if next.count < beamSize {
                    next.append(Beam(words: parent.words + [c.token], logProbs: parent.logProbs + [c.logProb], sum: c.sum))
                    parents.append(c.parent)
                }
            }
            // All beams have the same length, so they reach the limit together.
            if let longest = next.first, longest.words.count == maxLength {
                complete += next.map { hypothesis($0.words, $0.logProbs, end: nil, sum: $0.sum) }
                next = []
            }
            complete.sort { $0.ranks(before: $1) }
            complete = Array(complete.prefix(beamSize))
            guard let leader = next.first else { break }
            if complete.count == beamSize,
               scoring.score(sum: leader.sum, length: maxLength + 1) <= complete[beamSize - 1].score {
                break
            }
            let out = stepper.step(words: next.map { $0.words[$0.words.count - 1] }, parents: parents, state: state)
            try check(out.logProbs, rows: next.count, vocabularySize: v, step: step)
            (alive, rows, state) = (next, out.logProbs, out.state)
        }
        return Array(complete.prefix(n))
    }

    func hypothesis(_ words: [Int], _ logProbs: [Float], end: Float?, sum: Float) -> Hypothesis {
        Hypothesis(words: words, tokenLogProbs: logProbs, endLogProb: end, logProb: sum,
                   score: scoring.score(sum: sum, length: words.count + (end == nil ? 0 : 1)),
                   finished: end != nil)
    }

    /// The best `limit` candidates in rank order, kept in a small sorted array so each of
    /// the beams × vocabulary candidates costs one comparison unless it makes the cut.
    /// Twice the beam size suffices: at most one `<end>` per beam can precede the k words kept.
    func best(_ limit: Int, of rows: [[Float]], extending beams: [Beam], allowed: [Bool]) -> [Candidate] {
        var top: [Candidate] = []
        top.reserveCapacity(limit + 1)
        for (parent, row) in rows.enumerated() {
            let base = beams[parent].sum
            for (token, logProb) in row.enumerated() where allowed[token] {
                let c = Candidate(sum: base + logProb, logProb: logProb, token: token, parent: parent)
                if top.count == limit, let last = top.last, !c.ranks(before: last) { continue }
                var lo = 0, hi = top.count
                while lo < hi {
                    let mid = (lo + hi) / 2
                    if c.ranks(before: top[mid]) { hi = mid } else { lo = mid + 1 }
                }
                top.insert(c, at: lo)
                if top.count > limit { top.removeLast() }
            }
        }
        return top
    }

    /// A step's output must be one row of V log-probabilities per hypothesis, none NaN.
    func check(_ rows: [[Float]], rows expected: Int, vocabularySize v: Int, step: Int) throws(CaptionError) {
        guard v > 0 else { throw .malformedStep(step: step, expected: "at least one log-probability", got: "none") }
        guard rows.count == expected else {
            throw .malformedStep(step: step, expected: "\(expected) rows", got: "\(rows.count)")
        }
        for (r, row) in rows.enumerated() {
            guard row.count == v else {
                throw .malformedStep(step: step, expected: "rows of \(v) log-probabilities", got: "\(row.count) in row \(r)")
            }
            if let token = row.firstIndex(where: { $0.isNaN }) { throw .notANumber(step: step, row: r, token: token) }
        }
    }
}
