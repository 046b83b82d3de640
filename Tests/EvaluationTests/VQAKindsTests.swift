@testable import Evaluation
import XCTest

/// VQA's kinds for grounding and accuracy: the question type, split by answer
/// type only where a type mixes them.
final class VQAKindsTests: XCTestCase {
    func testTypesWithSeveralAnswerTypesAreSplit() {
        let kinds = Evaluator.vqaKinds([("color", "other"), ("spatial", "other"), ("spatial", "yes/no"), ("exists", "yes/no"),
                                        (nil, nil)])
        XCTAssertEqual(kinds, ["color", "spatial_other", "spatial_yes_no", "exists", "all"])
    }
}
