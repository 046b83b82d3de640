import CBLAS

/// Products go to OpenBLAS's sgemm: every Linear, LSTM gate and convolution.
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
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}

/// Sets how many threads OpenBLAS uses. Set 1 when the caller runs its own
/// threads: two threads each calling threaded OpenBLAS run slower than one.
public func setBLASThreads(_ n: Int) {
    openblas_set_num_threads(Int32(n))
}
