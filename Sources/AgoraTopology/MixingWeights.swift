import AgoraKernels

/// How mixing weights are derived from a graph.
public enum WeightScheme: String, Sendable, Codable, CaseIterable {
    /// Metropolis-Hastings: w_ij = 1 / (1 + max(d_i, d_j)), w_ii = 1 - sum_j w_ij. Symmetric and
    /// doubly stochastic on any graph, and computable by agent i from its neighbours' degrees alone.
    case metropolis
    /// Max-degree: w_ij = 1 / (1 + d_max), w_ii = 1 - d_i / (1 + d_max). Needs the global d_max.
    case maxDegree = "max-degree"
    /// Uniform: w_ij = 1 / (1 + d_i) over i and its neighbours. Symmetric only on regular graphs
    /// (validation rejects it elsewhere).
    case uniform
    /// Lazy Metropolis: (I + W_MH) / 2. All eigenvalues in [0, 1], so no oscillation.
    case lazyMetropolis = "lazy-metropolis"
}

/// A mixing matrix W over agents, in CSR form with Double weights (converted to the parameter type
/// when applied). Row i lists agent i itself first, then its neighbours ascending.
public struct MixingMatrix: Sendable, Equatable {
    public let csr: CSRMatrix<Double>
    public var agents: Int { csr.rows }

    /// Wraps explicit weights; call `validate()` before relying on them.
    public init(_ csr: CSRMatrix<Double>) { self.csr = csr }

    /// Weights for `graph` by `scheme`, validated.
    public init(graph: Graph, scheme: WeightScheme, tolerance: Double = 1e-10) throws {
        let n = graph.agents
        let deg = graph.degrees
        let dmax = graph.maxDegree
        if scheme == .uniform, let i = deg.firstIndex(where: { $0 != dmax }) {
            // 1 / (1 + degree) is symmetric only when every agent has the same degree.
            throw AgoraError.configuration(
                "uniform weights need a regular graph (every agent the same degree); agent \(i) has degree \(deg[i]), the largest is \(dmax): use metropolis or max-degree",
                field: "weights")
        }
        var rows: [[(Int, Double)]] = []
        rows.reserveCapacity(n)
        for i in 0..<n {
            var off: [(Int, Double)] = []
            for j in graph.neighbors[i] {
                let w: Double
                switch scheme {
                case .metropolis: w = 1 / Double(1 + max(deg[i], deg[j]))
                case .lazyMetropolis: w = 0.5 / Double(1 + max(deg[i], deg[j]))
                case .maxDegree: w = 1 / Double(1 + dmax)
                case .uniform: w = 1 / Double(1 + deg[i])
                }
                off.append((j, w))
            }
            // Self weight = 1 - sum of the others, summed in the stored order.
            var s = 0.0
            for (_, w) in off { s += w }
            rows.append([(i, 1 - s)] + off)
        }
        self.csr = try CSRMatrix(rows: n, cols: n, entries: rows)
        try validate(tolerance: tolerance, context: "\(scheme.rawValue) weights")
    }

    /// Custom off-diagonal weights (e.g. from a weighted edge-list file); w_ii = 1 - row sum. Validated.
    public init(graph: Graph, weights: [EdgeListFile.EdgeKey: Double], tolerance: Double = 1e-10) throws {
        var rows: [[(Int, Double)]] = []
        for i in 0..<graph.agents {
            var off: [(Int, Double)] = []
            for j in graph.neighbors[i] { off.append((j, weights[EdgeListFile.EdgeKey(i, j)] ?? 0)) }
            var s = 0.0
            for (_, w) in off { s += w }
            rows.append([(i, 1 - s)] + off)
        }
        self.csr = try CSRMatrix(rows: graph.agents, cols: graph.agents, entries: rows)
        try validate(tolerance: tolerance, context: "edge-list weights")
    }

    /// Checks that W is a valid mixing matrix: finite, non-negative, symmetric and doubly
    /// stochastic within `tolerance`. The error names the first offending entry, row or column.
    public func validate(tolerance: Double = 1e-10, context: String = "mixing matrix") throws {
        let n = csr.rows
        guard csr.cols == n else { throw AgoraError.configuration("The \(context) is \(n) x \(csr.cols), not square") }
        // Each row's entries by column, repeated columns summed (a merged CSR: O(nnz log degree),
        // where a dictionary keyed by i * n + j took seconds at 10^5 agents).
        var rowSum = [Double](repeating: 0, count: n), colSum = [Double](repeating: 0, count: n)
        var start = [Int](repeating: 0, count: n + 1), cols = [Int](), vals = [Double]()
        cols.reserveCapacity(csr.columns.count)
        vals.reserveCapacity(csr.values.count)
        var row: [(Int, Double)] = []
        for i in 0..<n {
            row.removeAll(keepingCapacity: true)
            for k in csr.rowStart[i]..<csr.rowStart[i + 1] {
                let j = Int(csr.columns[k]), w = csr.values[k]
                guard w.isFinite else { throw AgoraError.configuration("The \(context) has a non-finite weight w[\(i)][\(j)] = \(w)") }
                guard w >= -tolerance else {
                    throw AgoraError.configuration(
                        "The \(context) has a negative weight w[\(i)][\(j)] = \(w); mixing weights must be non-negative"
                            + (i == j ? " (the self weight 1 - sum of neighbour weights is negative: neighbour weights sum above 1)" : ""))
                }
                row.append((j, w))
                rowSum[i] += w
                colSum[j] += w
            }
            row.sort { $0.0 < $1.0 }
            for (j, w) in row {
                if cols.count > start[i], cols[cols.count - 1] == j {
                    vals[vals.count - 1] += w
                } else {
                    cols.append(j)
                    vals.append(w)
                }
            }
            start[i + 1] = cols.count
        }
        /// w[i][j] of the merged rows (0 when absent), by binary search in row i.
        func weight(_ i: Int, _ j: Int) -> Double {
            var lo = start[i], hi = start[i + 1]
            while lo < hi {
                let mid = (lo + hi) / 2
                if cols[mid] < j { lo = mid + 1 } else { hi = mid }
            }
            return lo < start[i + 1] && cols[lo] == j ? vals[lo] : 0
        }
        // In order of (i, j), as the first asymmetric pair is reported.
        for i in 0..<n {
            for k in start[i]..<start[i + 1] {
                let j = cols[k], w = vals[k], wt = weight(j, i)
                guard abs(w - wt) <= tolerance else {
                    throw AgoraError.configuration(
                        "The \(context) is not symmetric: w[\(i)][\(j)] = \(w) but w[\(j)][\(i)] = \(wt) (tolerance \(tolerance))")
                }
            }
        }
        for i in 0..<n where abs(rowSum[i] - 1) > tolerance {
            throw AgoraError.configuration(
                "The \(context) is not doubly stochastic: row \(i) sums to \(rowSum[i]), expected 1 (tolerance \(tolerance))")
        }
        for j in 0..<n where abs(colSum[j] - 1) > tolerance {
            throw AgoraError.configuration(
                "The \(context) is not doubly stochastic: column \(j) sums to \(colSum[j]), expected 1 (tolerance \(tolerance))")
        }
    }

    /// Eigenvalues of W (ascending), by LAPACK on the dense matrix: O(n^3), fine to a few thousand agents.
    public func eigenvalues() throws -> [Double] {
        try BLAS.symmetricEigenvalues(csr.dense())
    }

    /// Agents up to which the spectral gap comes from a dense eigen-solve (O(n^3) time, 8 n^2 bytes).
    public static let denseEigenLimit = 2048

    /// How the spectral gap was computed.
    public enum GapMethod: String, Sendable, Codable {
        /// Closed form of a circulant W (ring, exponential, complete graphs; any row-shift-invariant
        /// weights): lambda_k = sum_o w_o cos(2 pi o k / n), exact, O(n x degree).
        case circulant
        /// LAPACK on the dense matrix (n <= `denseEigenLimit`), exact to rounding.
        case dense
        /// Lanczos with full reorthogonalization on W - 11^T/n (the extreme Ritz values): an
        /// estimate for large non-circulant graphs; the Ritz values never exceed the true extremes,
        /// so the gap is an upper estimate, tight when the extreme eigenvalues are well separated.
        case lanczos
    }

    /// The spectral gap 1 - max(|lambda_2|, |lambda_n|) of a symmetric doubly stochastic W: the
    /// per-step contraction of the consensus error is (1 - gap)^2. Zero for a disconnected graph.
    public func spectralGap() throws -> Double { try spectralGapWithMethod().gap }

    /// The spectral gap and the method used (chosen by structure and size, see `GapMethod`).
    public func spectralGapWithMethod() throws -> (gap: Double, method: GapMethod) {
        let n = agents
        guard n > 1 else { return (1, .circulant) }
        if let offsets = circulantOffsets() {
            var slem = 0.0
            for k in 1..<n {
                var lambda = 0.0
                for (o, w) in offsets { lambda += w * Math.cos(2 * Double.pi * Double(o) * Double(k) / Double(n)) }
                slem = max(slem, abs(lambda))
            }
            return (1 - slem, .circulant)
        }
        if n <= Self.denseEigenLimit {
            let ev = try eigenvalues()
            // The largest eigenvalue is 1 (eigenvector the all-ones vector); the rest decide the rate.
            return (1 - max(abs(ev[ev.count - 2]), abs(ev[0])), .dense)
        }
        return (1 - (try lanczosSpectralRadiusDeflated()), .lanczos)
    }

    /// The (offset, weight) pairs of row 0 when every row i is row 0 shifted by i (W circulant),
    /// else nil.
    func circulantOffsets() -> [(Int, Double)]? {
        let n = csr.rows
        func offsets(_ i: Int) -> [Int: Double] {
            var d: [Int: Double] = [:]
            for k in csr.rowStart[i]..<csr.rowStart[i + 1] { d[(Int(csr.columns[k]) - i + n) % n, default: 0] += csr.values[k] }
            return d
        }
        let first = offsets(0)
        for i in 1..<n where offsets(i) != first { return nil }
        return first.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    /// max |eigenvalue| of W restricted to the complement of the all-ones vector, by Lanczos with
    /// full (twice-applied classical Gram-Schmidt) reorthogonalization from a seeded start.
    func lanczosSpectralRadiusDeflated() throws -> Double {
        let n = agents
        // Basis memory at most 256 MiB; at most 300 steps.
        let steps = max(2, min(300, n - 1, (256 << 20) / (8 * n)))
        let op: MixingOperator<Double> = mixingOperator(strategy: .sparse)
        var basis = Matrix<Double>(rows: steps, cols: n)
        var rng = SeededGenerator(seed: 0x1A2C05, stream: UInt64(n))
        var v = (0..<n).map { _ in rng.normal() }
        func deflate(_ x: inout [Double]) {
            let m = x.reduce(0, +) / Double(n)
            for i in x.indices { x[i] -= m }
        }
        deflate(&v)
        BLAS.scal(1 / BLAS.nrm2(v), &v)
        var alpha: [Double] = [], beta: [Double] = []
        var x = Matrix<Double>(rows: n, cols: 1), y = Matrix<Double>(rows: n, cols: 1)
        var h = [Double](repeating: 0, count: steps)
        for j in 0..<steps {
            basis.storage.replaceSubrange((j * n)..<((j + 1) * n), with: v)
            x.storage = v
            try Kernels.mix(op, x, into: &y)
            var w = y.storage
            deflate(&w)
            alpha.append(try BLAS.dot(w, v))
            for _ in 0..<2 {  // w -= V^T (V w), twice
                try BLAS.gemv(basis, w, into: &h)
                try BLAS.gemv(basis, h, into: &w, trans: true, alpha: -1, beta: 1)
            }
            let b = BLAS.nrm2(w)
            if j == steps - 1 || b < 1e-12 { break }
            beta.append(b)
            v = w
            BLAS.scal(1 / b, &v)
        }
        let k = alpha.count
        var t = Matrix<Double>(rows: k, cols: k)
        for i in 0..<k {
            t[i, i] = alpha[i]
            if i + 1 < k {
                t[i, i + 1] = beta[i]
                t[i + 1, i] = beta[i]
            }
        }
        let ritz = try BLAS.symmetricEigenvalues(t)
        return max(abs(ritz.first ?? 0), abs(ritz.last ?? 0))
    }

    /// A prepared operator for the kernels in element type T.
    public func mixingOperator<T: AgoraScalar>(_: T.Type = T.self, strategy: MixStrategy = .auto) -> MixingOperator<T> {
        try! MixingOperator(csr.converted(to: T.self), strategy: strategy)  // square by construction
    }
}
