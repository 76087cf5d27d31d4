/// Rows of a feature matrix: dense row-major, or sparse CSR (LIBSVM files stay sparse). The
/// gradient and scoring kernels read both through one row accessor.
public enum FeatureRows<T: AgoraScalar>: Sendable {
    case dense(Matrix<T>)
    case sparse(CSRMatrix<T>)
    public var cols: Int {
        switch self {
        case let .dense(m): return m.cols
        case let .sparse(s): return s.cols
        }
    }
    public var rows: Int {
        switch self {
        case let .dense(m): return m.rows
        case let .sparse(s): return s.rows
        }
    }
    /// Stored entries (all non-zero entries for dense data).
    public var nonzeros: Int {
        switch self {
        case let .dense(m):
            return m.storage.withUnsafeBufferPointer { b in
                var count = 0
                for v in b where v != 0 { count += 1 }
                return count
            }
        case let .sparse(s): return s.nonzeros
        }
    }
    /// Entries held in memory: rows x cols for dense rows, the non-zeros for sparse ones (no scan;
    /// for memory estimates).
    public var storedEntries: Int {
        switch self {
        case let .dense(m): return m.rows * m.cols
        case let .sparse(s): return s.nonzeros
        }
    }
    /// Fraction of entries that are non-zero.
    public var density: Double { rows * cols == 0 ? 0 : Double(nonzeros) / Double(rows * cols) }
}

extension FeatureRows where T == Float {
    /// The features in Double (for reference solves).
    public var double: FeatureRows<Double> {
        switch self {
        case let .dense(m): return .dense(Matrix(validatedRows: m.rows, cols: m.cols, storage: m.storage.map(Double.init)))
        case let .sparse(c): return .sparse(c.converted(to: Double.self))
        }
    }
}

extension FeatureRows {
    /// The rows with one more column holding `value` in every row: the intercept as a feature
    /// (LIBLINEAR's `-B` convention). Its weight is then regularised like the others by an L2
    /// penalty; with the small penalties used here the difference from an unpenalised intercept
    /// is of the order of the penalty.
    public func appendingConstantColumn(_ value: T) throws -> FeatureRows<T> {
        switch self {
        case let .dense(m):
            var s = [T]()
            s.reserveCapacity(m.rows * (m.cols + 1))
            for r in 0..<m.rows {
                s.append(contentsOf: m.storage[(r * m.cols)..<((r + 1) * m.cols)])
                s.append(value)
            }
            return .dense(Matrix(validatedRows: m.rows, cols: m.cols + 1, storage: s))
        case let .sparse(c):
            guard c.cols < Int(Int32.max) else {
                throw AgoraError.shape("appendingConstantColumn: \(c.cols) columns leave no room for another")
            }
            var start = [0], cols = [Int32](), vals = [T]()
            cols.reserveCapacity(c.nonzeros + c.rows)
            vals.reserveCapacity(c.nonzeros + c.rows)
            for r in 0..<c.rows {
                cols.append(contentsOf: c.columns[c.rowStart[r]..<c.rowStart[r + 1]])
                vals.append(contentsOf: c.values[c.rowStart[r]..<c.rowStart[r + 1]])
                cols.append(Int32(c.cols))
                vals.append(value)
                start.append(cols.count)
            }
            // Columns stay sorted within each row: the new column is the last one.
            return .sparse(try CSRMatrix(rows: c.rows, cols: c.cols + 1, rowStart: start, columns: cols, values: vals))
        }
    }
}
