/// Direct solvers for small dense systems (a few dozen unknowns: Newton and KKT systems of the
/// contract solver). Plain Gaussian elimination with partial pivoting in Double; for large
/// systems use BLAS/LAPACK instead.
public enum SmallDense {
    /// Solves A x = b for square A (row-major, n x n). Throws when A is singular to working precision.
    public static func solve(_ a: Matrix<Double>, _ b: [Double]) throws -> [Double] {
        let n = a.rows
        guard a.cols == n else { throw AgoraError.shape("solve: matrix is \(a.rows) x \(a.cols), not square") }
        guard b.count == n else { throw AgoraError.shape("solve: right-hand side has \(b.count) entries, expected \(n)") }
        var m = a.storage, x = b
        var scale = 0.0
        for v in m { scale = max(scale, abs(v)) }
        for col in 0..<n {
            var piv = col, best = abs(m[col * n + col])
            for r in (col + 1)..<max(col + 1, n) where abs(m[r * n + col]) > best {
                best = abs(m[r * n + col])
                piv = r
            }
            guard best > scale * 1e-300, best > 0 else {
                throw AgoraError.shape("solve: matrix is singular (no pivot in column \(col))")
            }
            if piv != col {
                for k in 0..<n { m.swapAt(col * n + k, piv * n + k) }
                x.swapAt(col, piv)
            }
            let d = m[col * n + col]
            for r in (col + 1)..<max(col + 1, n) {
                let f = m[r * n + col] / d
                if f == 0 { continue }
                for k in col..<n { m[r * n + k] -= f * m[col * n + k] }
                x[r] -= f * x[col]
            }
        }
        for col in stride(from: n - 1, through: 0, by: -1) {
            var s = x[col]
            for k in (col + 1)..<max(col + 1, n) { s -= m[col * n + k] * x[k] }
            x[col] = s / m[col * n + col]
        }
        return x
    }
}
