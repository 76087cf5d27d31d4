import AgoraKernels

/// Which process works on which rows of a [clients x p] matrix that every process holds whole,
/// and how the rows each process updated reach the others: the seam that spreads a market's
/// local training over MPI ranks while the server's step (which needs every client's model)
/// runs on the full matrix.
///
/// A method written against it updates only `localRows`, then calls `shareRows`; the numbers
/// are those of the single-process run as long as a row's update reads nothing but that row
/// and replicated state (true of local training: each client's gradients, batches and random
/// stream are its own).
public protocol RowPlacement {
    /// Rows (clients) of the matrix.
    var rows: Int { get }
    /// The rows this process updates (all of them in a single process).
    var localRows: Range<Int> { get }
    /// Whether this process reports results (rank 0 under MPI).
    var isRoot: Bool { get }
    /// After every process updated its `localRows` of `x` (the same shape everywhere), gives
    /// every process every other process's rows; the rows a process does not own are overwritten.
    func shareRows(_ x: inout Matrix<Float>) throws
}

/// Every row in this process: `shareRows` has nothing to do.
public struct SingleProcessPlacement: RowPlacement {
    public let rows: Int
    public init(rows: Int) { self.rows = rows }
    public var localRows: Range<Int> { 0..<rows }
    public var isRoot: Bool { true }
    public func shareRows(_ x: inout Matrix<Float>) throws {
        guard x.rows == rows else { throw AgoraError.shape("shareRows: \(x.rows) rows for a placement of \(rows)") }
    }
}
