extension SeededGenerator {
    /// A `rows x cols` matrix of N(0, scale^2) entries, drawn row by row in element order.
    public mutating func normalMatrix<T: AgoraScalar>(rows: Int, cols: Int, scale: Double = 1, as: T.Type = T.self) -> Matrix<T> {
        var m = Matrix<T>(rows: rows, cols: cols)
        for k in m.storage.indices { m.storage[k] = T(normal() * scale) }
        return m
    }
}
