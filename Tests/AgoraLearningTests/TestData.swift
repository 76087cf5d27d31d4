import AgoraKernels

/// A random feature matrix, dense and the same as CSR (each entry non-zero with probability
/// `density`), drawn from `g`.
func randomDenseAndSparse(rows: Int, cols: Int, density: Double, _ g: inout SeededGenerator) -> (dense: Matrix<Double>, sparse: CSRMatrix<Double>) {
    var m = Matrix<Double>(rows: rows, cols: cols)
    var entries: [[(Int, Double)]] = []
    for i in 0..<rows {
        var r: [(Int, Double)] = []
        for k in 0..<cols where g.uniform() < density { let v = g.normal(); m[i, k] = v; r.append((k, v)) }
        entries.append(r)
    }
    return (m, try! CSRMatrix(rows: rows, cols: cols, entries: entries))
}
