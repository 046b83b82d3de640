import CBLAS
import Dispatch
import Synchronization

/// Products go to OpenBLAS — sgemm, or sgemv for a single row or column: every
/// Linear, LSTM gate and convolution.
enum BLAS {
    /// C = alpha·op(A)·op(B) + beta·C, all row-major; op transposes when asked.
    @inline(__always)
    static func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                     alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                     b: UnsafePointer<Float>, ldb: Int,
                     beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard m > 0 && n > 0 else { return }
        guard k > 0 else {
            // sgemm leaves C alone when k = 0; the product is then 0.
            for i in 0..<m { for j in 0..<n { c[i * ldc + j] *= beta } }
            return
        }
        // A single row or column is a matrix–vector product: sgemm would first
        // pack (copy) the whole matrix, which for a batch-1 Linear such as
        // VGG's 411 MB fc6 costs more than the product itself.
        if (m == 1 || n == 1) && beta == 0 {
            // sgemv scales y by beta, which leaves a NaN in uninitialised memory.
            for i in 0..<m { for j in 0..<n { c[i * ldc + j] = 0 } }
        }
        if m == 1 {  // c = op(B)ᵀ·a, a's k values lda apart when A is transposed
            cblas_sgemv(CblasRowMajor, transB ? CblasNoTrans : CblasTrans, Int32(transB ? n : k), Int32(transB ? k : n),
                        alpha, b, Int32(ldb), a, transA ? Int32(lda) : 1, beta, c, 1)
        } else if n == 1 {  // c = op(A)·b, b's k values ldb apart unless B is transposed, c's ldc apart
            cblas_sgemv(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, Int32(transA ? k : m), Int32(transA ? m : k),
                        alpha, a, Int32(lda), b, transB ? 1 : Int32(ldb), beta, c, Int32(ldc))
        } else {
            cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                        Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
        }
    }

    /// The thread count `setBLASThreads` chose; 0 until it is called.
    static let chosenThreads = Atomic<Int>(0)
    /// OpenBLAS's own count, read once (on first use, before `concurrently`
    /// lowers it for a while).
    private static let defaultThreads = Int(openblas_get_num_threads())

    /// How many threads products may use: what `setBLASThreads` chose, else
    /// OpenBLAS's default.
    static var threads: Int {
        let chosen = chosenThreads.load(ordering: .relaxed)
        return chosen > 0 ? chosen : defaultThreads
    }

    /// Runs `body(0)` … `body(count − 1)` on threads of our own, each of whose
    /// products runs on one OpenBLAS thread: two threads each calling threaded
    /// OpenBLAS are slower than one (DESIGN.md). OpenBLAS gets `threads` back
    /// afterwards.
    static func concurrently(_ count: Int, _ body: (Int) -> Void) {
        guard count > 1 else {
            if count == 1 { body(0) }
            return
        }
        let restore = threads
        openblas_set_num_threads(1)
        defer { openblas_set_num_threads(Int32(restore)) }
        // The parts touch disjoint memory; the caller guarantees it.
        withoutActuallyEscaping(body) { body in
            nonisolated(unsafe) let body = body
            DispatchQueue.concurrentPerform(iterations: count) { body($0) }
        }
    }

    /// Part `part` of `count` nearly equal contiguous parts of 0..<total.
    static func share(_ part: Int, of total: Int, parts count: Int) -> Range<Int> {
        (total * part / count)..<(total * (part + 1) / count)
    }
}

/// Runs `body(0)` … `body(count − 1)` at once, each on a thread of its own
/// whose products use one OpenBLAS thread (data-parallel training runs a share
/// of each batch per thread). The bodies must not write shared memory.
public func concurrently(_ count: Int, _ body: (Int) -> Void) {
    BLAS.concurrently(count, body)
}

/// Sets how many threads OpenBLAS uses. Set 1 when the caller runs its own
/// threads: two threads each calling threaded OpenBLAS run slower than one.
public func setBLASThreads(_ n: Int) {
    BLAS.chosenThreads.store(n, ordering: .relaxed)
    openblas_set_num_threads(Int32(n))
}
