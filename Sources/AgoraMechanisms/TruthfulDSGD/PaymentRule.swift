import AgoraTopology

/// Neighbour-to-neighbour payments of truthful decentralized SGD (Chen & Wang, arXiv 2603.27962;
/// reconstruction, see the spec): on every edge (i, j), agent i pays agent j
///     tau_ij = C_t omega_ij (s_i - s_j),
/// where s is the reported squared norm of the applied update. omega_ij is symmetric, so
/// tau_ji = -tau_ij exactly in floating point and the payments balance with no server.
public struct PaymentRule: Codable, Sendable, Equatable {
    /// How each edge is weighted (omega_ij). All choices are symmetric in i and j.
    public enum EdgeWeighting: String, Codable, Sendable, CaseIterable {
        /// omega_ij = 1 (the rule as stated in the abstract).
        case unit
        /// omega_ij = w_ij, the mixing weight.
        case mixingWeight = "mixing-weight"
        /// omega_ij = 2 / (d_i + d_j): degree normalisation kept symmetric, so that the budget still
        /// balances exactly (a per-agent 1/d_i would make i's and j's view of the transfer differ).
        case degreeNormalised = "degree-normalised"
    }

    /// C_t = C_0 (t + 1)^-u.
    public var coefficient: PowerSchedule
    public var edgeWeighting: EdgeWeighting

    public init(coefficient: PowerSchedule, edgeWeighting: EdgeWeighting = .unit) {
        self.coefficient = coefficient
        self.edgeWeighting = edgeWeighting
    }

    /// Net payment of each local agent at iteration t (positive: it pays), computed by each agent
    /// from its own report and what its neighbours sent: P_i = sum_j tau_ij.
    public func payments(iteration t: Int, reports s: [Double], exchange: NeighborExchange) throws -> [Double] {
        let c = coefficient(t)
        let received = try exchange.neighborScalars(iteration: t, s)
        let deg = exchange.degrees(iteration: t), first = exchange.localAgents.lowerBound
        return (0..<s.count).map { k in
            var p = 0.0
            for q in received.range(k) { p += c * omega(first + k, q, received, deg) * (s[k] - received.values[q]) }
            return p
        }
    }

    /// omega_i = sum_j omega_ij per local agent at iteration t: the payment an agent makes per unit
    /// of its own report is C_t omega_i, so omega_i replaces the degree in the best-response
    /// formula under edge weightings other than `unit`.
    public func edgeWeightSums(iteration t: Int, exchange: NeighborExchange) -> [Double] {
        let n = exchange.localAgents.count, first = exchange.localAgents.lowerBound
        let received = exchange.neighborhoods(iteration: t)  // local: no collective
        let deg = exchange.degrees(iteration: t)
        return (0..<n).map { k in received.range(k).reduce(0.0) { $0 + omega(first + k, $1, received, deg) } }
    }

    /// omega_ij for the q-th neighbour entry of agent i.
    private func omega(_ i: Int, _ q: Int, _ received: ReceivedScalars, _ deg: [Int]) -> Double {
        switch edgeWeighting {
        case .unit: return 1
        case .mixingWeight: return received.weights[q]
        case .degreeNormalised: return 2 / Double(deg[i] + deg[Int(received.from[q])])
        }
    }
}
