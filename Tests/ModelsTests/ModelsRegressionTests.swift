import Foundation
import Models
import XCTest

/// Hostile config.json values that made a run never finish.
final class ModelsRegressionTests: XCTestCase {
    /// Was: a captioner with "max_length": 60000 (then allowed, as any size up to 2¹⁶)
    /// decoded and explained captions of up to 60 000 words; explaining T words runs the
    /// decoder T times at batch T, so a model that never says <end> ran for hours. The
    /// length is now bounded by `ModelConfig.maxCaptionLength` (and so is --max-length).
    func testCaptionLengthIsBounded() throws {
        func config(maxLength: Int) -> Data {
            Data("""
                {"format": "gradcam-model/1", "task": "captioning",
                 "input": {"width": 32, "height": 32, "resize": "stretch", "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]},
                 "backbone": {"arch": "vgg", "cfg": [8, "M"], "feature": "avgpool"},
                 "decoder": {"embed": 4, "hidden": 4, "layers": 1, "max_length": \(maxLength)}}
                """.utf8)
        }
        XCTAssertEqual(ModelConfig.maxCaptionLength, 1000)
        XCTAssertEqual(try ModelConfig.parse(config(maxLength: 1000), file: "config.json").decoder?.maxLength, 1000)
        XCTAssertThrowsError(try ModelConfig.parse(config(maxLength: 60000), file: "config.json")) { error in
            XCTAssertEqual(error as? ConfigError,
                           ConfigError(file: "config.json", "\"decoder.max_length\" must be at most 1000, got 60000"))
        }
    }
}
