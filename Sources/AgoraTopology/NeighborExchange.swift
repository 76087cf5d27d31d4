import AgoraKernels

/// What a decentralized mechanism needs from the network, and nothing more: mix parameters with
/// the current neighbours (and apply each agent's own step), and learn the neighbours' scalars.
///
/// The in-process simulator implements it over the whole [agents x d] matrix; an MPI back-end
/// implements it with one rank per agent (or block of agents) and neighbour collectives. A
/// mechanism written against this protocol computes everything an agent uses from its own state
/// and what it received, so it runs unchanged on either.
public protocol NeighborExchange {
    var agents: Int { get }
    /// The agents whose rows this process holds, as a range of global indices: all of them in
    /// process, a block per rank under MPI. Per-agent arguments and results (parameters, step
    /// sizes, directions, scalars) hold these agents only, in this order.
    var localAgents: Range<Int> { get }
    /// Whether this process reports results (rank 0 under MPI; always in process).
    var isRoot: Bool { get }
    /// theta_i <- sum_j w_ij(t) theta_j - lr_i m_i for every local agent i, at iteration t.
    func mixStep(
        iteration t: Int, parameters: Matrix<Float>, stepSizes: [Float], directions: Matrix<Float>,
        into out: inout Matrix<Float>) throws
    /// For every local agent i, the scalars its neighbours sent at iteration t, with their mixing
    /// weights (local agent k's entries are `received.range(k)`; `from` holds global indices).
    func neighborScalars(iteration t: Int, _ s: [Double]) throws -> ReceivedScalars
    /// For every local agent, its neighbours at iteration t and their mixing weights, with
    /// `values` all zero. Local (no communication): the topology is public, so a rank may ask
    /// for it alone, e.g. for one strategic agent, without every rank joining a collective.
    func neighborhoods(iteration t: Int) -> ReceivedScalars
    /// Degrees of all agents at iteration t (the topology is public: every process knows it).
    func degrees(iteration t: Int) -> [Int]
    /// The [agents x d] matrix of every process's local rows, on the root (nil elsewhere).
    func gatherRows(_ local: Matrix<Float>) throws -> Matrix<Float>?
    /// The per-agent values of every process, on the root (nil elsewhere).
    func gather(_ local: [Double]) throws -> [Double]?
    /// `perAgent` words per local agent from every process, on the root in agent order (nil
    /// elsewhere): random-stream states for checkpoints.
    func gather(_ local: [UInt64], perAgent: Int) throws -> [UInt64]?
}

/// What every agent received from its neighbours, flat: agent i's entries are
/// `rowStart[i]..<rowStart[i+1]` of `from`, `weights` and `values` (neighbours ascending).
public struct ReceivedScalars: Sendable {
    public var rowStart: [Int]
    public var from: [Int32]
    public var weights: [Double]
    public var values: [Double]
    public init(rowStart: [Int], from: [Int32], weights: [Double], values: [Double]) {
        self.rowStart = rowStart
        self.from = from
        self.weights = weights
        self.values = values
    }
    public func range(_ i: Int) -> Range<Int> { rowStart[i]..<rowStart[i + 1] }
}

/// The in-process implementation: all agents in one matrix, mixing by the kernels (sparse or
/// GEMM by density), static or time-varying topologies (one prepared operator per period step).
public struct InProcessExchange: NeighborExchange {
    public let agents: Int
    public let topology: Topology
    public let weights: WeightScheme
    let graphs: [Graph]
    let mixing: [MixingMatrix]
    let operators: [MixingOperator<Float>]
    /// Per graph of the period: every agent's neighbours and weights (values zero). Built once, as
    /// the MPI exchange's plans hold them: the payments ask for them every iteration (rebuilding
    /// them cost 25 us per step at 256 agents, a fifth of the mechanism step).
    let neighborhoodList: [ReceivedScalars]
    let pool: ThreadPool

    public init(
        topology: Topology, weights: WeightScheme, agents: Int, seed: UInt64,
        strategy: MixStrategy = .auto, pool: ThreadPool = .shared
    ) throws {
        self.agents = agents
        self.topology = topology
        self.weights = weights
        self.pool = pool
        _ = try topology.unionGraph(agents: agents, seed: seed)  // connected (over a period)
        var gs: [Graph] = [], ms: [MixingMatrix] = [], ops: [MixingOperator<Float>] = []
        for t in 0..<topology.period(agents: agents) {
            let g = try topology.graph(agents: agents, seed: seed, iteration: t)
            let w = try topology.mixingMatrix(agents: agents, scheme: weights, seed: seed, iteration: t)
            gs.append(g)
            ms.append(w)
            ops.append(w.mixingOperator(Float.self, strategy: strategy))
        }
        graphs = gs
        mixing = ms
        operators = ops
        neighborhoodList = ms.map { Self.neighborhoods(of: $0, agents: agents) }
    }

    public func graph(iteration t: Int) -> Graph { graphs[t % graphs.count] }
    public func mixingMatrix(iteration t: Int) -> MixingMatrix { mixing[t % mixing.count] }

    public func mixStep(
        iteration t: Int, parameters: Matrix<Float>, stepSizes: [Float], directions: Matrix<Float>,
        into out: inout Matrix<Float>
    ) throws {
        try Kernels.mixStep(
            operators[t % operators.count], parameters, stepSizes: stepSizes, directions: directions,
            into: &out, pool: pool)
    }

    /// `mixStep` on caller-owned row-major buffers of agents x `cols` (no copies; the caller
    /// guarantees the sizes and that `out` overlaps neither input).
    public func mixStep(
        iteration t: Int, parameters: UnsafePointer<Float>, cols: Int, stepSizes: [Float],
        directions: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>
    ) {
        stepSizes.withUnsafeBufferPointer { lr in
            Kernels.mix(
                operators[t % operators.count], x: parameters, cols: cols, into: out,
                stepSizes: lr.baseAddress, directions: directions, pool: pool)
        }
    }

    public func neighborScalars(iteration t: Int, _ s: [Double]) throws -> ReceivedScalars {
        guard s.count == agents else { throw AgoraError.shape("neighborScalars: \(s.count) values for \(agents) agents") }
        var out = neighborhoods(iteration: t)
        out.values = out.from.map { s[Int($0)] }  // one new array (element writes into the shared one cost 3x)
        return out
    }

    public func neighborhoods(iteration t: Int) -> ReceivedScalars { neighborhoodList[t % neighborhoodList.count] }

    static func neighborhoods(of m: MixingMatrix, agents: Int) -> ReceivedScalars {
        let w = m.csr
        var out = ReceivedScalars(rowStart: [0], from: [], weights: [], values: [])
        out.rowStart.reserveCapacity(agents + 1)
        out.from.reserveCapacity(w.nonzeros)
        out.weights.reserveCapacity(w.nonzeros)
        out.values.reserveCapacity(w.nonzeros)
        for i in 0..<agents {
            for k in w.rowStart[i]..<w.rowStart[i + 1] {
                let j = Int(w.columns[k])
                if j == i { continue }
                out.from.append(w.columns[k])
                out.weights.append(w.values[k])
                out.values.append(0)
            }
            out.rowStart.append(out.from.count)
        }
        return out
    }

    public func degrees(iteration t: Int) -> [Int] { graphs[t % graphs.count].degrees }

    public var localAgents: Range<Int> { 0..<agents }
    public var isRoot: Bool { true }
    public func gatherRows(_ local: Matrix<Float>) throws -> Matrix<Float>? { local }
    public func gather(_ local: [Double]) throws -> [Double]? { local }
    public func gather(_ local: [UInt64], perAgent: Int) throws -> [UInt64]? {
        guard perAgent >= 1, local.count == agents * perAgent else {
            throw AgoraError.shape("gather: \(local.count) words for \(agents) agents x \(perAgent)")
        }
        return local
    }
}
