import CBLAS
import Dispatch
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Products go to OpenBLAS — sgemm, or sgemv for a single row or column: every
/// Linear, LSTM gate and convolution.
///
/// OpenBLAS always runs on one thread of its own; a large product is cut here
/// into a fixed number of bands of its output, shared by `threads` threads, so
/// its bits depend on the machine's BLAS kernel but never on the number of
/// threads or on what else runs at once (`bands`). OpenBLAS's own threads
/// spin (`sched_yield`, a core's worth) for a long while after every threaded
/// product, so a command that made even one spent its second core spinning
/// between products — and on a busy machine each threaded product waited for
/// a worker another process held: commands ran 3–5× slower (BENCHMARKS.md,
/// "Products on threads of our own").
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
        let parts = bands(m: m, n: n, k: k)
        guard parts > 1 else {
            product(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                    beta: beta, c: c, ldc: ldc)
            return
        }
        // Bands of C's rows or columns, whichever are more, cut at multiples of 16.
        let rows = m >= n, length = rows ? m : n
        nonisolated(unsafe) let c = c
        func band(_ part: Int) {
            let lower = share(part, of: length / 16, parts: parts).lowerBound * 16
            let upper = part == parts - 1 ? length : share(part, of: length / 16, parts: parts).upperBound * 16
            guard lower < upper else { return }
            if rows {
                product(transA: transA, transB: transB, m: upper - lower, n: n, k: k, alpha: alpha,
                        a: a + lower * (transA ? 1 : lda), lda: lda, b: b, ldb: ldb,
                        beta: beta, c: c + lower * ldc, ldc: ldc)
            } else {
                product(transA: transA, transB: transB, m: m, n: upper - lower, k: k, alpha: alpha,
                        a: a, lda: lda, b: b + lower * (transB ? ldb : 1), ldb: ldb,
                        beta: beta, c: c + lower, ldc: ldc)
            }
        }
        let workers = regions.load(ordering: .relaxed) == 0 ? Swift.min(threads, parts) : 1
        concurrently(workers) { worker in
            for part in Swift.stride(from: worker, to: parts, by: workers) { band(part) }
        }
    }

    /// One OpenBLAS call on one thread.
    @inline(__always)
    private static func product(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                                alpha: Float, a: UnsafePointer<Float>, lda: Int,
                                b: UnsafePointer<Float>, ldb: Int,
                                beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        _ = openBLASOnOneThread
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

    /// Products of fewer multiply–adds than this run whole: below it a
    /// thread's start-up is no longer small beside its share.
    static let threadedMinimum = 1 << 22

    /// How many bands a larger product is cut into, whatever the number of
    /// threads that then share them.
    static let bandsPerProduct = 4

    /// How many bands a product is computed in: a function of its shape alone.
    /// OpenBLAS's kernels may round an element differently in products of
    /// different sizes (the AVX2 ones do, by the width of the band), so were
    /// the cut to follow the thread count, results would too.
    static func bands(m: Int, n: Int, k: Int) -> Int {
        guard m * n * k >= threadedMinimum else { return 1 }
        return Swift.max(1, Swift.min(bandsPerProduct, Swift.max(m, n) / 16))
    }

    /// OpenBLAS's own thread count (OPENBLAS_NUM_THREADS, else the cores), read
    /// once before it is set to one for good.
    private static let defaultThreads = Int(openblas_get_num_threads())
    static let openBLASOnOneThread: Void = {
        _ = defaultThreads
        openblas_set_num_threads(1)
        // The worker threads OpenBLAS started when it was loaded wait for work
        // spinning (sched_yield) for about 0.1 s before they sleep: a core's
        // worth that a one-shot command would lose. Stopping them is what
        // OpenBLAS itself does before a fork; with one thread it never needs them.
        typealias Shutdown = @convention(c) () -> Int32
        if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "blas_thread_shutdown_") {
            _ = unsafeBitCast(symbol, to: Shutdown.self)()
        }
    }()

    /// The thread count `setBLASThreads` chose; 0 until it is called.
    static let chosenThreads = Atomic<Int>(0)
    /// How many `concurrently` regions are running.
    private static let regions = Atomic<Int>(0)

    /// How many threads a large product is split between: what
    /// `setBLASThreads` chose, else OpenBLAS's default.
    static var threads: Int {
        let chosen = chosenThreads.load(ordering: .relaxed)
        return chosen > 0 ? chosen : defaultThreads
    }

    /// Runs `body(0)` … `body(count − 1)` on threads of our own (Dispatch's,
    /// which sleep when idle); products inside run whole on their thread.
    static func concurrently(_ count: Int, _ body: (Int) -> Void) {
        guard count > 1 else {
            if count == 1 { body(0) }
            return
        }
        regions.add(1, ordering: .relaxed)
        defer { regions.subtract(1, ordering: .relaxed) }
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
/// whose products run whole on that thread (data-parallel training runs a
/// share of each batch per thread). The bodies must not write shared memory.
public func concurrently(_ count: Int, _ body: (Int) -> Void) {
    BLAS.concurrently(count, body)
}

/// Puts OpenBLAS on one thread and stops the workers it started when it was
/// loaded, which otherwise spin on a core for a while: the first thing a
/// program that multiplies should do (products do it anyway, later).
public func startBLAS() {
    BLAS.openBLASOnOneThread
}

/// Sets how many threads a large product is split between (default: OpenBLAS's
/// count, OPENBLAS_NUM_THREADS or the cores). Set 1 when the caller runs its
/// own threads.
public func setBLASThreads(_ n: Int) {
    BLAS.chosenThreads.store(n, ordering: .relaxed)
}
