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

    /// A large product split into bands of rows or columns, one per thread, gives the same bits
    /// as the whole product on one thread — every transposition, the sgemv shapes, lengths that
    /// are not multiples of 16 — and OpenBLAS itself stays on one thread.
    func testSplitProductsEqualWholeOnes() {
        let threads = BLAS.threads
        defer { setBLASThreads(threads) }
        var rng = SeededGenerator(seed: 11)
        let deep = BLAS.threadedMinimum
        for (m, n, k) in [(300, 37, deep / (300 * 37) + 1), (29, 530, deep / (29 * 530) + 1), (1, 70_001, deep / 70_001 + 1),
                          (70_001, 1, deep / 70_001 + 1), (17, 17, deep / 289 + 1)] {
            for transA in [false, true] {
                for transB in [false, true] {
                    let a = (0..<(m * k)).map { _ in rng.nextGaussian() }, b = (0..<(k * n)).map { _ in rng.nextGaussian() }
                    func multiply(threads: Int) -> [Float] {
                        setBLASThreads(threads)
                        var c = [Float](repeating: .nan, count: m * n)
                        BLAS.gemm(transA: transA, transB: transB, m: m, n: n, k: k, a: a, lda: transA ? m : k,
                                  b: b, ldb: transB ? k : n, c: &c, ldc: n)
                        return c
                    }
                    let whole = multiply(threads: 1)
                    XCTAssertFalse(whole.contains { $0.isNaN })
                    for t in [2, 3] {
                        let split = multiply(threads: t)
                        let differs = split.indices.first { split[$0].bitPattern != whole[$0].bitPattern }
                        XCTAssertNil(differs, "\(m)×\(n)×\(k) transA \(transA) transB \(transB), \(t) threads: first difference at \(differs ?? 0)")
                    }
                }
            }
        }
        XCTAssertEqual(openblas_get_num_threads(), 1)
    }
}
