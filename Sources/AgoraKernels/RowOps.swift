extension Kernels {
    /// ||x_i||^2 for every row i, each summed in a fixed order (see `fixedOrderSum`).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func rowSquaredNorms<T: AgoraScalar>(_ x: Matrix<T>, pool: ThreadPool = .shared) -> [T] {
        x.storage.withUnsafeBufferPointer { xb in
            guard let base = xb.baseAddress else { return [T](repeating: 0, count: x.rows) }
            return rowSquaredNorms(base, rows: x.rows, cols: x.cols, pool: pool)
        }
    }

    /// `rowSquaredNorms` of a caller-owned row-major buffer of `rows x cols` (the C ABI's entry).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func rowSquaredNorms<T: AgoraScalar>(_ x: UnsafePointer<T>, rows: Int, cols d: Int, pool: ThreadPool = .shared) -> [T] {
        perRow(rows, bytes: rows * d * MemoryLayout<T>.size, pool: pool) { i in fixedOrderDot(x + i * d, x + i * d, d) }
    }

    /// ||x_i||^2 of a Float buffer accumulated in Double (eight lanes, a fixed order): truthful
    /// DSGD reports for callers who compare them with a float64 reference (the C ABI, numpy).
    public static func rowSquaredNormsInDouble(_ x: UnsafePointer<Float>, rows: Int, cols d: Int, pool: ThreadPool = .shared) -> [Double] {
        perRow(rows, bytes: rows * d * MemoryLayout<Float>.size, pool: pool) { i in
            let row = x + i * d
            var acc = SIMD8<Double>.zero
            var k = 0
            while k + 8 <= d {
                let v = SIMD8<Double>(UnsafeRawPointer(row + k).loadUnaligned(as: SIMD8<Float>.self))
                acc += v * v
                k += 8
            }
            var total = acc.sum()
            while k < d {
                let v = Double(row[k])
                total += v * v
                k += 1
            }
            return total
        }
    }

    /// [value(0), ..., value(rows - 1)], rows split over the pool (each value depends on its row only).
    static func perRow<R>(_ rows: Int, bytes: Int, pool: ThreadPool, _ value: (Int) -> R) -> [R] {
        guard rows > 0 else { return [] }
        return pool.parallelMap(rows, bytes: bytes, value)
    }

    /// a_i . b_i for every row i (a and b of the same shape).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func rowDots<T: AgoraScalar>(_ a: Matrix<T>, _ b: Matrix<T>, pool: ThreadPool = .shared) throws -> [T] {
        guard a.rows == b.rows, a.cols == b.cols else {
            throw AgoraError.shape("rowDots: shapes \(a.rows) x \(a.cols) and \(b.rows) x \(b.cols) differ")
        }
        var out = [T](repeating: 0, count: a.rows)
        let d = a.cols
        a.storage.withUnsafeBufferPointer { ab in
            b.storage.withUnsafeBufferPointer { bb in
                out.withUnsafeMutableBufferPointer { ob in
                    guard let abase = ab.baseAddress, let bbase = bb.baseAddress, d > 0 else { return }
                    let ap = SendablePointer(UnsafeMutablePointer(mutating: abase))
                    let bp = SendablePointer(UnsafeMutablePointer(mutating: bbase))
                    let op = SendablePointer(ob.baseAddress!)
                    pool.parallelFor(a.rows, bytes: 2 * a.storage.count * MemoryLayout<T>.size) { r in
                        for i in r { op.p[i] = fixedOrderDot(ap.p + i * d, bp.p + i * d, d) }
                    }
                }
            }
        }
        return out
    }

    /// The Gram matrix G = X X^T of the rows (n x n, symmetric), by BLAS syrk.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func gram<T: AgoraScalar>(_ x: Matrix<T>) -> Matrix<T> {
        var g = Matrix<T>(uninitializedRows: x.rows, cols: x.rows)  // syrk (beta = 0) and the mirror write every element
        try! BLAS.syrk(x, into: &g)  // shapes are right by construction
        return g
    }

    /// The cross Gram matrix A B^T (rows of A against rows of B), by BLAS gemm.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func gram<T: AgoraScalar>(_ a: Matrix<T>, _ b: Matrix<T>) throws -> Matrix<T> {
        guard a.cols == b.cols else {
            throw AgoraError.shape("gram: rows have \(a.cols) and \(b.cols) elements")
        }
        return try BLAS.product(a, b, transB: true)
    }

    /// Pairwise cosine distances of the rows: D_ij = 1 - <x_i, x_j> / (||x_i|| ||x_j||).
    ///
    /// Computed from one Gram matrix (one syrk, compute-bound) instead of n^2 row passes.
    /// Numerical caveats: the result is clamped to [0, 2] (rounding can push 1 - cos slightly
    /// outside); D_ii = 0; a zero row has no direction, and its distance to every other row is
    /// defined as 1 (cosine similarity 0). For nearly parallel rows the Gram route loses about
    /// half the digits of 1 - cos (cancellation); use Double when distances below ~1e-4 matter.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public static func cosineDistances<T: AgoraScalar>(_ x: Matrix<T>) -> Matrix<T> {
        var g = gram(x)
        _ = gramToCosines(&g)
        for k in g.storage.indices { g.storage[k] = 1 - g.storage[k] }  // the diagonal becomes 0, zero rows 1
        return g
    }
}
