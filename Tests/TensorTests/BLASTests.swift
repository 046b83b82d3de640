import CBLAS
@testable import Tensor
import XCTest

/// `BLAS.gemm` against a plain triple loop, including the single-row and
/// single-column products it hands to sgemv: every transposition, padded
/// leading dimensions, beta 0 over NaN-filled output and beta 1.
final class BLASTests: XCTestCase {
    func testProductsMatchTheDefinition() {
        var rng = SeededGenerator(seed: 5)
        for (m, n, k) in [(1, 7, 5), (6, 1, 4), (1, 1, 9), (3, 5, 4)] {
            for transA in [false, true] {
                for transB in [false, true] {
                    for beta: Float in [0, 1] {
                        // Stored shapes with one spare column each, so leading dimensions matter.
                        let (ra, ca) = transA ? (k, m) : (m, k), (rb, cb) = transB ? (n, k) : (k, n)
                        let (lda, ldb, ldc) = (ca + 1, cb + 1, n + 1)
                        let a = (0..<(ra * lda)).map { _ in rng.nextGaussian() }
                        let b = (0..<(rb * ldb)).map { _ in rng.nextGaussian() }
                        let c0 = (0..<(m * ldc)).map { _ in beta == 0 ? Float.nan : rng.nextGaussian() }
                        var c = c0
                        a.withUnsafeBufferPointer { pa in
                            b.withUnsafeBufferPointer { pb in
                                c.withUnsafeMutableBufferPointer { pc in
                                    BLAS.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 2,
                                              a: pa.baseAddress!, lda: lda, b: pb.baseAddress!, ldb: ldb,
                                              beta: beta, c: pc.baseAddress!, ldc: ldc)
                                }
                            }
                        }
                        for i in 0..<m {
                            for j in 0..<n {
                                var sum: Float = 0
                                for l in 0..<k {
                                    sum += (transA ? a[l * lda + i] : a[i * lda + l]) * (transB ? b[j * ldb + l] : b[l * ldb + j])
                                }
                                let want = 2 * sum + (beta == 0 ? 0 : c0[i * ldc + j])
                                XCTAssertEqual(c[i * ldc + j], want, accuracy: 1e-4,
                                               "m \(m) n \(n) k \(k) transA \(transA) transB \(transB) beta \(beta)")
                            }
                        }
                    }
                }
            }
        }
    }

    /// A large product is cut into bands by its shape alone, so its bits are the same on one
    /// thread, on two or three, and inside a region of concurrent work (where its bands run one
    /// after another) — under whichever kernel OpenBLAS picks (.ci/run runs this under Haswell and
    /// Sandybridge too) — and within rounding of one whole sgemm. Every transposition, the sgemv
    /// shapes, lengths that are not multiples of 16; OpenBLAS itself stays on one thread.
    func testResultsDoNotDependOnThreads() {
        let threads = BLAS.threads
        defer { setBLASThreads(threads) }
        var rng = SeededGenerator(seed: 11)
        let deep = BLAS.threadedMinimum
        for (m, n, k) in [(300, 37, deep / (300 * 37) + 1), (29, 530, deep / (29 * 530) + 1), (1, 70_001, deep / 70_001 + 1),
                          (70_001, 1, deep / 70_001 + 1), (40, 33, deep / (40 * 33) + 1)] {
            XCTAssertGreaterThan(BLAS.bands(m: m, n: n, k: k), 1, "\(m)×\(n)×\(k) is cut into bands")
            for transA in [false, true] {
                for transB in [false, true] {
                    let a = (0..<(m * k)).map { _ in rng.nextGaussian() }, b = (0..<(k * n)).map { _ in rng.nextGaussian() }
                    let (lda, ldb) = (transA ? m : k, transB ? k : n)
                    func multiply(threads: Int, inRegion: Bool = false) -> [Float] {
                        setBLASThreads(threads)
                        var c = [Float](repeating: .nan, count: m * n)
                        c.withUnsafeMutableBufferPointer { out in
                            nonisolated(unsafe) let out = out
                            let run = { BLAS.gemm(transA: transA, transB: transB, m: m, n: n, k: k, a: a, lda: lda,
                                                  b: b, ldb: ldb, c: out.baseAddress!, ldc: n) }
                            if inRegion {
                                BLAS.concurrently(2) { part in if part == 0 { run() } }
                            } else {
                                run()
                            }
                        }
                        return c
                    }
                    let one = multiply(threads: 1), name = "\(m)×\(n)×\(k) transA \(transA) transB \(transB)"
                    XCTAssertFalse(one.contains { $0.isNaN }, name)
                    for (t, inRegion) in [(2, false), (3, false), (2, true)] {
                        XCTAssertNil(firstDifference(multiply(threads: t, inRegion: inRegion), one),
                                     "\(name), \(t) threads\(inRegion ? " in a region" : "") against 1")
                    }
                    var whole = [Float](repeating: .nan, count: m * n)
                    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                                Int32(m), Int32(n), Int32(k), 1, a, Int32(lda), b, Int32(ldb), 0, &whole, Int32(n))
                    let worst = zip(one, whole).map { abs($0 - $1) }.max()!
                    XCTAssertLessThan(worst, 1e-3, "\(name): banded against one sgemm")
                }
            }
        }
        XCTAssertEqual(openblas_get_num_threads(), 1)
    }
}

/// Where two arrays first differ bit for bit, as a short message, or nil when
/// they are identical (a failure names one element, not thousands).
func firstDifference(_ got: [Float], _ want: [Float]) -> String? {
    guard got.count == want.count else { return "\(got.count) values, expected \(want.count)" }
    guard let i = got.indices.first(where: { got[$0].bitPattern != want[$0].bitPattern }) else { return nil }
    let count = got.indices.filter { got[$0].bitPattern != want[$0].bitPattern }.count
    return "first difference at \(i) of \(got.count): \(got[i]) against \(want[i]) (\(count) differ)"
}
