import AgoraKernels
import AgoraLearning
import AgoraMechanisms
import AgoraTopology
import Foundation

/// Gossip averaging x_{t+1} = W_t x_t from random starting parameters: the mixing part of every
/// decentralized method, on its own. Shows how fast a topology and weight scheme reach consensus,
/// against the spectral-gap prediction ||x_t - xbar||^2 <= (1 - gap)^(2t) ||x_0 - xbar||^2.
public struct ConsensusExperiment: Codable, Sendable, Equatable {
    public var topology: Topology = .exponential
    public var weights: WeightScheme = .metropolis
    public var agents: Int = 64
    public var dimension: Int = 1000
    public var steps: Int = 30
    public var seed: UInt64 = 1
    public var strategy: MixStrategy = .auto

    public init() {}

    public struct Step: Codable, Sendable, Equatable {
        public let step: Int
        /// sum_i ||x_i - xbar||^2
        public let consensusError: Double
        /// consensusError / initial consensus error
        public let relativeError: Double
        /// (1 - gap)^(2 t) for static topologies; nil for time-varying ones.
        public let spectralBound: Double?
        /// Largest |change| of the network mean since step 0 (mixing with a doubly stochastic W
        /// preserves it; this is rounding only).
        public let meanDrift: Double
    }

    public struct Result: Codable, Sendable {
        public let config: ConsensusExperiment
        public let edges: Int
        public let degreeMin: Int
        public let degreeMax: Int
        /// Spectral gap of W (of the period union's W for time-varying topologies: an indication only).
        public let spectralGap: Double
        public let usesGEMM: Bool
        public let steps: [Step]
        public let secondsPerStep: Double
        /// FNV-1a (64-bit, hex) of the final parameters' Float bit patterns: two runs with equal
        /// digests ended with bit-identical parameters (the MPI back-end against the simulator).
        public var parametersDigest: String? = nil
    }

    /// Checks the configuration, naming the field at fault.
    public func validate() throws {
        guard agents >= 1 else { throw AgoraError.configuration("agents must be at least 1, got \(agents)") }
        guard dimension >= 1 else { throw AgoraError.configuration("dimension must be at least 1, got \(dimension)") }
        guard steps >= 0, steps <= 100_000_000 else { throw AgoraError.configuration("steps must be in 0...100000000, got \(steps)") }
        // Three [agents x dimension] Float matrices (X, Y and the reference average's deviations).
        try ResourceLimits.check(
            bytes: 3 * 4 * Double(agents) * Double(dimension), for: "mixing \(agents) agents x \(dimension) parameters")
    }

    /// Runs the experiment; `progress` is called after each step. With `exchange` (an MPI
    /// back-end) each process mixes its own agents' rows through it, the root gathers them for the
    /// metrics, and the root's result equals the in-process run (the exchange mixes each step with
    /// the same strategy).
    public func run(pool: ThreadPool = .shared, progress: ((Int) -> Void)? = nil, exchange: (any NeighborExchange)? = nil) throws -> Result
    {
        try validate()
        if let exchange, exchange.agents != agents {
            throw AgoraError.configuration("the exchange connects \(exchange.agents) agents, the experiment has \(agents)")
        }
        let union = try topology.unionGraph(agents: agents, seed: seed)
        let period = topology.period(agents: agents)
        var ops: [MixingOperator<Float>] = []
        for t in 0..<period {
            ops.append(
                try topology.mixingMatrix(agents: agents, scheme: weights, seed: seed, iteration: t).mixingOperator(
                    Float.self, strategy: strategy))
        }
        let gap = try topology.scheduleMixingMatrix(agents: agents, scheme: weights, seed: seed).spectralGap()
        var rng = SeededGenerator(seed: seed, stream: 1)
        let full: Matrix<Float> = rng.normalMatrix(rows: agents, cols: dimension)
        let local = exchange?.localAgents ?? 0..<agents
        var x =
            local == 0..<agents
            ? full
            : try Matrix(
                rows: local.count, cols: dimension,
                storage: Array(full.storage[(local.lowerBound * dimension)..<(local.upperBound * dimension)]))
        var y = Matrix<Float>(rows: local.count, cols: dimension)
        let zeros = exchange == nil ? Matrix<Float>(rows: 0, cols: 0) : Matrix<Float>(rows: local.count, cols: dimension)
        let noSteps = [Float](repeating: 0, count: local.count)
        let mean0 = Kernels.rowMean(full)
        let e0 = Double(Kernels.consensusError(full, pool: pool))
        /// The metrics of step t from every agent's row (nil on a non-root rank).
        func record(_ t: Int) throws -> Step? {
            guard let all = try exchange.map({ try $0.gatherRows(x) }) ?? x else { return nil }
            let e = Double(Kernels.consensusError(all, pool: pool))
            let m = Kernels.rowMean(all)
            var drift = 0.0
            for k in m.indices { drift = max(drift, Double(abs(m[k] - mean0[k]))) }
            return Step(
                step: t, consensusError: e, relativeError: e0 > 0 ? e / e0 : 0,
                spectralBound: topology.isTimeVarying ? nil : pow(1 - gap, 2 * Double(t)),
                meanDrift: drift)
        }
        var out = [try record(0)].compactMap { $0 }
        var mixSeconds = 0.0
        for t in 0..<steps {
            let start = DispatchTime.now().uptimeNanoseconds
            if let exchange {
                // The fused update with zero steps is the plain mix, element for element.
                try exchange.mixStep(iteration: t, parameters: x, stepSizes: noSteps, directions: zeros, into: &y)
            } else {
                try Kernels.mix(ops[t % period], x, into: &y, pool: pool)
            }
            mixSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
            swap(&x, &y)
            if let step = try record(t + 1) { out.append(step) }
            progress?(t + 1)
        }
        let degs = union.degrees
        let final = try exchange.map { try $0.gatherRows(x) } ?? x
        let digest = final.map(Kernels.bitDigest)
        return Result(
            config: self, edges: union.edgeCount, degreeMin: degs.min() ?? 0, degreeMax: degs.max() ?? 0,
            spectralGap: gap, usesGEMM: ops[0].usesGEMM, steps: out,
            secondsPerStep: steps > 0 ? mixSeconds / Double(steps) : 0, parametersDigest: digest)
    }
}
