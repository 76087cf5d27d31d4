/// A sparse square matrix in compressed-sparse-row form, used for mixing matrices W: row `i` lists
/// the agents `j` (including `i` itself when w_ii != 0) whose parameters agent `i` averages, with
/// weights w_ij.
///
/// Column indices within a row keep the order they were given in; the mixing kernel sums the
/// neighbours in that order, so results are reproducible bit for bit.
public struct CSRMatrix<T: AgoraScalar>: Sendable, Equatable {
    public let rows: Int
    public let cols: Int
    /// `rowStart[i]..<rowStart[i+1]` indexes row `i`'s entries; `rowStart.count == rows + 1`.
    public let rowStart: [Int]
    public let columns: [Int32]
    public let values: [T]

    /// Validates and builds a CSR matrix.
    /// - Throws: `AgoraError` when offsets are not monotone, counts disagree, or a column index is
    ///   out of range.
    public init(rows: Int, cols: Int, rowStart: [Int], columns: [Int32], values: [T]) throws {
        guard rows >= 0, cols >= 0 else { throw AgoraError.shape("CSR dimensions must be non-negative") }
        guard rowStart.count == rows + 1 else {
            throw AgoraError.shape("CSR rowStart has \(rowStart.count) offsets, expected rows + 1 = \(rows + 1)")
        }
        guard rowStart.first == 0 else { throw AgoraError.shape("CSR rowStart must begin at 0") }
        for i in 0..<rows where rowStart[i] > rowStart[i + 1] {
            throw AgoraError.shape("CSR rowStart decreases at row \(i)")
        }
        guard columns.count == rowStart[rows], values.count == rowStart[rows] else {
            throw AgoraError.shape("CSR has \(columns.count) columns and \(values.count) values, expected \(rowStart[rows])")
        }
        for (k, c) in columns.enumerated() where c < 0 || Int(c) >= cols {
            throw AgoraError.shape("CSR column index \(c) at entry \(k) is outside 0..<\(cols)")
        }
        self.rows = rows
        self.cols = cols
        self.rowStart = rowStart
        self.columns = columns
        self.values = values
    }

    /// Builds CSR from per-row lists of (column, value).
    public init(rows: Int, cols: Int, entries: [[(Int, T)]]) throws {
        guard entries.count == rows else {
            throw AgoraError.shape("CSR needs \(rows) rows of entries, got \(entries.count)")
        }
        var start = [0], c: [Int32] = [], v: [T] = []
        for r in entries {
            for (j, w) in r {
                c.append(Int32(truncatingIfNeeded: j))
                v.append(w)
            }
            start.append(c.count)
        }
        try self.init(rows: rows, cols: cols, rowStart: start, columns: c, values: v)
    }

    /// Stored entries.
    public var nonzeros: Int { values.count }
    /// Fraction of stored entries, nnz / (rows * cols).
    public var density: Double { rows * cols == 0 ? 0 : Double(nonzeros) / Double(rows * cols) }

    /// The dense equivalent (duplicate entries add up).
    public func dense() -> Matrix<T> {
        var m = Matrix<T>(rows: rows, cols: cols)
        for i in 0..<rows { for k in rowStart[i]..<rowStart[i + 1] { m[i, Int(columns[k])] += values[k] } }
        return m
    }

    /// Converts the element type.
    public func converted<U: AgoraScalar>(to: U.Type = U.self) -> CSRMatrix<U> {
        // Safe: the structure was validated already.
        try! CSRMatrix<U>(
            rows: rows, cols: cols, rowStart: rowStart, columns: columns,
            values: values.map { U($0) })
    }
}
