import Decoding
import Foundation
import XCTest

final class BeamSearchTests: XCTestCase {
    /// Greedy takes "a" (0.5 > 0.4), whose best continuation "a c <end>" is worth
    /// 0.5 · 0.35 · 0.9 = 0.1575; "b <end>" is worth 0.4 · 0.9 = 0.36.
    func greedyTrap() -> TableStepper {
        TableStepper([
            []: distribution([Token.a: 0.5, Token.b: 0.4]),
            [Token.a]: distribution([Token.c: 0.35, Token.end: 0.3]),
            [Token.a, Token.c]: distribution([Token.end: 0.9]),
            [Token.b]: distribution([Token.end: 0.9]),
        ], otherwise: distribution([Token.end: 0.5]))
    }

    func testBeamFindsTheSequenceGreedyMisses() throws {
        let greedy = try XCTUnwrap(BeamSearch(beamSize: 1, maxLength: 5).search(greedyTrap()).first)
        XCTAssertEqual(greedy.words, [Token.a, Token.c])
        XCTAssertEqual(greedy.score, logf(0.5) + logf(0.35) + logf(0.9), accuracy: 1e-5)

        for k in [2, 3] {
            let best = try XCTUnwrap(BeamSearch(beamSize: k, maxLength: 5).search(greedyTrap()).first)
            XCTAssertEqual(best.words, [Token.b], "k = \(k)")
            XCTAssertEqual(best.score, logf(0.4) + logf(0.9), accuracy: 1e-5)
            XCTAssertEqual(best.tokenLogProbs, [logf(0.4)])
            XCTAssertEqual(best.endLogProb, logf(0.9))
            XCTAssertTrue(best.finished)
        }
    }

    func testResultsAreRankedAndComplete() throws {
        let results = try BeamSearch(beamSize: 2, maxLength: 5).search(greedyTrap(), best: 2)
        XCTAssertEqual(results.map(\.words), [[Token.b], [Token.a, Token.c]])
        for h in results {
            XCTAssertEqual(h.tokenLogProbs.count, h.words.count)
            XCTAssertEqual(h.logProb, h.tokenLogProbs.reduce(0, +) + (h.endLogProb ?? 0), accuracy: 1e-6)
            XCTAssertEqual(h.score, h.logProb)
        }
    }

    /// Exact properties on random tables: a beam of 1 is greedy decoding, a beam wide enough
    /// to keep every candidate finds the exhaustive optimum, and no beam beats that optimum.
    func testRandomTables() throws {
        for seed in 0..<50 as Range<UInt64> {
            let table = randomTable(seed: seed)
            let greedy = referenceGreedy(table, maxLength: 3)
            let one = try XCTUnwrap(BeamSearch(beamSize: 1, maxLength: 3).search(TableStepper(table: table)).first)
            XCTAssertEqual(one.words, greedy.words, "seed \(seed)")
            XCTAssertEqual(one.logProb, greedy.logProb, "seed \(seed)")

            let optimum = bruteForceBest(table, maxLength: 3)
            let wide = try XCTUnwrap(BeamSearch(beamSize: 100, maxLength: 3).search(TableStepper(table: table)).first)
            XCTAssertEqual(wide.score, optimum, accuracy: 1e-5, "seed \(seed)")
            for k in [2, 3] {
                let top = try XCTUnwrap(BeamSearch(beamSize: k, maxLength: 3).search(TableStepper(table: table)).first)
                XCTAssertLessThanOrEqual(top.score, optimum + 1e-5, "seed \(seed), k = \(k)")
            }
        }
    }

    /// Beam search is not monotone in the beam size: k = 2 keeps "b a" and "b b" (0.2475,
    /// 0.198) over greedy's "a c" (0.175), then finds only poor endings (≤ 0.2475 · 0.165),
    /// while greedy ends "a c <end>" at 0.166.
    func testBeamCanEndBelowGreedy() throws {
        let stepper = TableStepper([
            []: distribution([Token.a: 0.5, Token.b: 0.45]),
            [Token.a]: distribution([Token.c: 0.35]),
            [Token.a, Token.c]: distribution([Token.end: 0.95]),
            [Token.b]: distribution([Token.a: 0.55, Token.b: 0.44]),
        ], otherwise: distribution([Token.end: 0.01]))
        let greedy = try XCTUnwrap(BeamSearch(beamSize: 1, maxLength: 3).search(stepper).first)
        let beam = try XCTUnwrap(BeamSearch(beamSize: 2, maxLength: 3).search(stepper).first)
        XCTAssertEqual(greedy.words, [Token.a, Token.c])
        XCTAssertLessThan(beam.score, greedy.score)
        XCTAssertEqual(beam.words.first, Token.b)
    }

    /// "a <end>" finishes at the second step while "b c c …" keeps growing past it; the
    /// finished one keeps its words and score.
    func testFinishedHypothesesAreFrozen() throws {
        let stepper = TableStepper([
            []: distribution([Token.a: 0.5, Token.b: 0.45]),
            [Token.a]: distribution([Token.end: 0.8]),
        ], otherwise: distribution([Token.c: 0.97]))
        let results = try BeamSearch(beamSize: 2, maxLength: 5).search(stepper, best: 2)
        let frozen = try XCTUnwrap(results.first { $0.words == [Token.a] })
        XCTAssertTrue(frozen.finished)
        XCTAssertEqual(frozen.tokenLogProbs, [logf(0.5)])
        XCTAssertEqual(frozen.endLogProb, logf(0.8))
        XCTAssertEqual(frozen.score, logf(0.5) + logf(0.8))
        // The other beams kept stepping after "a <end>" was frozen at step 2.
        XCTAssertGreaterThan(stepper.batchSizes.count, 2)
        XCTAssertTrue(results.contains { $0.words.count > 2 })
    }

    /// "a <end>": 0.5 · 0.6 = 0.30, mean log-prob over 2 tokens −0.60;
    /// "b c <end>": 0.45 · 0.9 · 0.7 = 0.2835, mean over 3 tokens −0.42.
    func testLengthNormalizationChangesTheWinner() throws {
        let stepper = TableStepper([
            []: distribution([Token.a: 0.5, Token.b: 0.45]),
            [Token.a]: distribution([Token.end: 0.6]),
            [Token.b]: distribution([Token.c: 0.9]),
            [Token.b, Token.c]: distribution([Token.end: 0.7]),
        ], otherwise: distribution([Token.end: 0.9]))
        let plain = try XCTUnwrap(BeamSearch(beamSize: 2, maxLength: 4).search(stepper).first)
        XCTAssertEqual(plain.words, [Token.a])
        XCTAssertEqual(plain.score, logf(0.5) + logf(0.6), accuracy: 1e-6)

        let normalized = try XCTUnwrap(BeamSearch(beamSize: 2, maxLength: 4, scoring: .lengthNormalized()).search(stepper).first)
        XCTAssertEqual(normalized.words, [Token.b, Token.c])
        XCTAssertEqual(normalized.score, (logf(0.45) + logf(0.9) + logf(0.7)) / 3, accuracy: 1e-6)
        XCTAssertEqual(normalized.logProb, logf(0.45) + logf(0.9) + logf(0.7), accuracy: 1e-6)

        let squared = try XCTUnwrap(BeamSearch(beamSize: 2, maxLength: 4, scoring: .lengthNormalized(alpha: 2)).search(stepper).first)
        XCTAssertEqual(squared.score, squared.logProb / 9, accuracy: 1e-6)
    }

    /// Equal sums: the lower token id first, then the lower parent beam; equal final scores:
    /// fewer words, then smaller ids.
    func testTiesAreBrokenDeterministically() throws {
        let threeWay = TableStepper([
            []: distribution([Token.a: 0.3, Token.b: 0.3, Token.c: 0.3]),
        ], otherwise: distribution([Token.end: 1]))
        let ranked = try BeamSearch(beamSize: 3, maxLength: 3).search(threeWay, best: 3)
        XCTAssertEqual(ranked.map(\.words), [[Token.a], [Token.b], [Token.c]])
        XCTAssertEqual(Set(ranked.map(\.score)).count, 1)
        for _ in 0..<5 { XCTAssertEqual(try BeamSearch(beamSize: 3, maxLength: 3).search(threeWay, best: 3), ranked) }
        XCTAssertEqual(try BeamSearch(beamSize: 1, maxLength: 3).search(threeWay).first?.words, [Token.a])

        // "a c" and "b c" tie on sum and token for the last slot: parent "a" (beam 0) wins.
        let parentTie = TableStepper([
            []: distribution([Token.a: 0.3, Token.b: 0.3]),
            [Token.a]: distribution([Token.a: 0.5, Token.c: 0.4]),
            [Token.b]: distribution([Token.c: 0.4]),
        ], otherwise: distribution([Token.end: 1]))
        let kept = try BeamSearch(beamSize: 2, maxLength: 3).search(parentTie, best: 2)
        XCTAssertEqual(kept.map(\.words), [[Token.a, Token.a], [Token.a, Token.c]])
    }

    func testMaximumLengthTruncates() throws {
        let stepper = TableStepper([:], otherwise: distribution([Token.a: 0.9, Token.end: 0.01]))
        let h = try XCTUnwrap(BeamSearch(beamSize: 2, maxLength: 3).search(stepper).first)
        XCTAssertEqual(h.words, [Token.a, Token.a, Token.a])
        XCTAssertFalse(h.finished)
        XCTAssertNil(h.endLogProb)
        XCTAssertEqual(h.score, 3 * logf(0.9), accuracy: 1e-5)
        // Words 2 and 3 need a step each; no step is taken past the limit.
        XCTAssertEqual(stepper.batchSizes, [2, 2])
    }

    /// Every step runs all k beams as one batch, never k calls of one row.
    func testBeamsRunAsOneBatch() throws {
        let stepper = TableStepper(table: randomTable(seed: 7))
        _ = try BeamSearch(beamSize: 3, maxLength: 6).search(stepper)
        XCTAssertFalse(stepper.batchSizes.isEmpty)
        XCTAssertLessThanOrEqual(stepper.batchSizes.count, 5)
        XCTAssertEqual(stepper.batchSizes, Array(repeating: 3, count: stepper.batchSizes.count))
    }

    func testStartAndPadAreNeverProposedAndUnknownIsOptional() throws {
        let stepper = TableStepper([:], otherwise: distribution([Token.start: 0.4, Token.pad: 0.3, Token.unk: 0.2, Token.end: 0.001]))
        let allowed = try XCTUnwrap(BeamSearch(beamSize: 2, maxLength: 3).search(stepper).first)
        XCTAssertEqual(allowed.words, [Token.unk, Token.unk, Token.unk])
        let noUnknown = try BeamSearch(beamSize: 2, maxLength: 3, allowUnknown: false).search(stepper, best: 2)
        XCTAssertEqual(noUnknown.count, 2)
        for h in noUnknown {
            XCTAssertEqual(h.words.count, 3)
            XCTAssertFalse(h.words.contains { [Token.start, Token.pad, Token.unk].contains($0) }, "\(h.words)")
        }
    }

    func testInvalidArgumentsAreErrors() {
        XCTAssertThrowsError(try BeamSearch(beamSize: 0, maxLength: 5)) {
            XCTAssertEqual($0 as? CaptionError, .invalidBeamSize(0))
            XCTAssertEqual("\($0)", "beam size must be at least 1 (1 is greedy decoding), got 0")
        }
        XCTAssertThrowsError(try BeamSearch(beamSize: 2, maxLength: 0)) {
            XCTAssertEqual("\($0)", "maximum caption length must be at least 1 word, got 0")
        }
        XCTAssertThrowsError(try BeamSearch(beamSize: 2, maxLength: 5, scoring: .lengthNormalized(alpha: -1))) {
            XCTAssertEqual($0 as? CaptionError, .invalidAlpha(-1))
        }
        XCTAssertThrowsError(try BeamSearch(beamSize: 2, maxLength: 5).search(greedyTrap(), best: 3)) {
            XCTAssertEqual($0 as? CaptionError, .invalidResultCount(requested: 3, beamSize: 2))
        }
    }

    func testMalformedStepFunctionsAreErrors() {
        let short = TableStepper([[Token.a]: [0, 0]], otherwise: distribution([Token.a: 0.9]))
        XCTAssertThrowsError(try BeamSearch(beamSize: 1, maxLength: 5).search(short)) {
            XCTAssertEqual("\($0)", "decoding step 1: expected rows of 7 log-probabilities, got 2 in row 0")
        }
        let nan = TableStepper([:], otherwise: distribution([Token.b: 0.9]).enumerated().map { $0.offset == Token.c ? .nan : $0.element })
        XCTAssertThrowsError(try BeamSearch(beamSize: 1, maxLength: 5).search(nan)) {
            XCTAssertEqual($0 as? CaptionError, .notANumber(step: 0, row: 0, token: Token.c))
        }
        let wrongEnd = TableStepper(specialTokens: SpecialTokens(end: 9, masked: [], unknown: nil),
                                    table: { _ in distribution([:]) })
        XCTAssertThrowsError(try BeamSearch(beamSize: 1, maxLength: 5).search(wrongEnd)) {
            XCTAssertEqual("\($0)", "<end> token id 9 is outside the model's 7 outputs (vocabulary and model disagree)")
        }
    }
}
