import Tensor
import XCTest

/// An array of a PyTorch fixture's expected.json: its shape and values.
struct FixtureArray: Decodable { let shape: [Int]; let data: [Float] }

extension XCTestCase {
    /// `actual` has the fixture's shape and values within `absolute`, or within
    /// `relative` × the fixture's largest magnitude (which must not be 0).
    func assertClose(_ actual: Tensor, _ expected: FixtureArray, absolute: Float? = nil, relative: Float? = nil, _ what: String,
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.shape, expected.shape, what, file: file, line: line)
        let scale = expected.data.map(abs).max() ?? 0
        XCTAssertGreaterThan(scale, 0, "\(what): the reference is all zeros", file: file, line: line)
        let err = zip(actual.values, expected.data).map { abs($0 - $1) }.max() ?? .infinity
        let bound = absolute ?? (relative ?? 0) * scale
        XCTAssertLessThanOrEqual(err, bound, "\(what): max error \(err) (scale \(scale))", file: file, line: line)
    }
}
