/// Rows of a feature matrix: dense row-major, or sparse CSR (LIBSVM files stay sparse). The
/// gradient and scoring kernels read both through one row accessor.
public enum FeatureRows<T: AgoraScalar>: Sendable {
    case dense(Matrix<T>)
    case sparse(CSRMatrix<T>)
    public var cols: Int { switch self { case let .dense(m): return m.cols; case let .sparse(s): return s.cols } }
    public var rows: Int { switch self { case let .dense(m): return m.rows; case let .sparse(s): return s.rows } }
    /// Stored entries (all non-zero entries for dense data).
    public var nonzeros: Int {
        switch self {
        case let .dense(m): return m.storage.reduce(0) { $0 + ($1 != 0 ? 1 : 0) }
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

