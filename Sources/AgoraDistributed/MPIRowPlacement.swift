#if MPI
import AgoraKernels
import AgoraTopology

/// `RowPlacement` over MPI: clients in contiguous blocks over the ranks (rank r owns rows
/// r m / P ..< (r + 1) m / P; ranks may own none), rows shared by `MPI_Allgatherv` in place, one
/// row (`MPI_Type_contiguous(p)` floats) per element. Every rank then holds the same full matrix
/// bit for bit, so the server's step computed on it agrees everywhere.
public final class MPIRowPlacement: RowPlacement {
    public let rows: Int
    public let rank: Int
    public let ranks: Int
    public let localRows: Range<Int>
    public var isRoot: Bool { rank == 0 }
    let blocks: [Range<Int>]
    let types: ContiguousTypes

    /// Collective in spirit (every rank must construct it with the same `rows`), though it
    /// communicates only in `shareRows`.
    public init(rows m: Int) throws {
        let rank = try MPIRuntime.rank(), ranks = try MPIRuntime.size()
        self.rank = rank
        self.ranks = ranks
        rows = m
        let blocks = blockRanges(m, ranks: ranks)
        self.blocks = blocks
        types = ContiguousTypes(rank: rank)
        localRows = blocks[rank]
    }

    public func shareRows(_ x: inout Matrix<Float>) throws {
        guard x.rows == rows else { throw AgoraError.shape("shareRows on rank \(rank): \(x.rows) rows for a placement of \(rows)") }
        let p = x.cols
        guard rows > 0, p > 0, ranks > 1 else { return }
        let type = try types.floats(p)
        let counts = blocks.map { Int32($0.count) }, displs = blocks.map { Int32($0.lowerBound) }
        try x.storage.withUnsafeMutableBufferPointer { b in
            try MPIRuntime.allgatherInPlace(
                UnsafeMutableRawPointer(b.baseAddress), counts: counts, displacements: displs, type: type, rank: rank)
        }
    }
}
#endif
