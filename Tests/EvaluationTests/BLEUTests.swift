@testable import Evaluation
import Foundation
import XCTest

final class BLEUTests: XCTestCase {
    func testIdenticalAndDisjointCaptions() {
        let c = ["a", "red", "circle", "left", "of", "a", "blue", "square"]
        XCTAssertEqual(BLEU.corpus(candidates: [c], references: [[c]]), 1, accuracy: 1e-12)
        XCTAssertEqual(BLEU.corpus(candidates: [["x", "y", "z", "w"]], references: [[c]]), 0)
    }

    func testHandComputedValue() {
        // Candidate of 6 words against one reference of 6: p1 = 5/6, p2 = 3/5, p3 = 2/4, p4 = 1/3, no brevity penalty.
        let cand = ["a", "red", "circle", "above", "a", "square"]
        let ref = ["a", "red", "circle", "above", "blue", "square"]
        let expected = exp((log(5.0 / 6) + log(3.0 / 5) + log(2.0 / 4) + log(1.0 / 3)) / 4)
        XCTAssertEqual(BLEU.corpus(candidates: [cand], references: [[ref]]), expected, accuracy: 1e-12)
        // A shorter candidate is penalised: exp(1 − 6/4) × precisions of 1.
        let short = ["a", "red", "circle", "above"]
        XCTAssertEqual(BLEU.corpus(candidates: [short], references: [[ref]]), exp(1 - 6.0 / 4), accuracy: 1e-12)
    }
}
