import AgoraKernels
import AgoraTopology

/// Truthful decentralized SGD with neighbour payments (Chen & Wang, arXiv 2603.27962;
/// reconstruction, stated in full in docs/dsgd.md). Per iteration t, for every agent i:
///  1. g_i = stochastic gradient of f_i at theta_i;  the agent applies m_i (= g_i when truthful);
///  2. it sends theta_i and s_i = ||m_i||^2 (its report) to its neighbours;
///  3. theta_i <- sum_j w_ij theta_j - lambda_t m_i,  lambda_t = lambda_0 (t + 1)^-v;
///  4. it pays each neighbour j the amount C_t omega_ij (s_i - s_j)  (`PaymentRule`).
public struct TruthfulDSGD: Codable, Sendable, Equatable {
    /// lambda_t = lambda_0 (t + 1)^-v.
    public var stepSize: PowerSchedule
    /// nil: payments off (plain decentralized SGD, the baseline).
    public var payments: PaymentRule?

    public init(stepSize: PowerSchedule, payments: PaymentRule?) {
        self.stepSize = stepSize
        self.payments = payments
    }

    /// Checks the configuration; the message names the field.
    public func validate() throws {
        try stepSize.validate(field: "stepSize")
        guard stepSize.exponent > 0.5, stepSize.exponent <= 1 else {
            throw AgoraError.configuration("stepSize.exponent (v) must be in (0.5, 1], got \(stepSize.exponent)")
        }
        if let p = payments {
            try p.coefficient.validate(field: "payments.coefficient")
        }
    }

    /// Warnings a user should see before a long run.
    public var warnings: [String] {
        guard let p = payments else { return [] }
        let v = stepSize.exponent, u = p.coefficient.exponent
        if 2 * v - u <= 1 {
            return [
                cFormat(
                    "2v - u = %.3g <= 1: sum_t lambda_t^2 / C_t diverges, so the one-step gain bound does not sum to a finite total (choose v > (1 + u) / 2)",
                    2 * v - u)
            ]
        }
        return []
    }

    /// The one-step gain bound of an inflating agent with degree d and gradient bound G:
    /// lambda_t^2 G^2 / (4 C_t d), and its sum over t < iterations (finite as T -> infinity iff
    /// 2v - u > 1). Not the paper's proof: the spec's one-step argument.
    public func gainBound(gradientBound g: Double, degree d: Int, iterations: Int) -> (first: Double, cumulative: Double)? {
        guard let p = payments, d > 0 else { return nil }
        var total = 0.0, first = 0.0
        for t in 0..<iterations {
            let l = stepSize(t)
            let b = l * l * g * g / (4 * p.coefficient(t) * Double(d))
            if t == 0 { first = b }
            total += b
        }
        return (first, total)
    }

    /// One iteration: parameters move by the fused mix-and-step; returns each agent's net payment
    /// (all zero with payments off). `applied` are the directions m_i the agents use, `reports`
    /// the squared norms they announce.
    public func step(
        iteration t: Int, parameters: Matrix<Float>, applied: Matrix<Float>, reports: [Double],
        exchange: NeighborExchange, into next: inout Matrix<Float>
    ) throws -> [Double] {
        let lr = [Float](repeating: Float(stepSize(t)), count: parameters.rows)
        try exchange.mixStep(iteration: t, parameters: parameters, stepSizes: lr, directions: applied, into: &next)
        return try payments?.payments(iteration: t, reports: reports, exchange: exchange)
            ?? [Double](repeating: 0, count: parameters.rows)
    }
}
