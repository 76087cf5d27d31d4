import AgoraKernels
import Foundation

/// Seeded synthetic data for embedded defaults: linear or logistic regression across agents whose
/// local problems differ by a controllable heterogeneity.
///
/// theta_a = theta* + h u_a and features x ~ N(h mu_a, I) for agent a, with theta*, u_a ~ N(0, I/d)
/// and mu_a ~ N(0, I/d). Least squares: y = x . theta_a + sigma e. Logistic: y = +1 with probability
/// sigmoid(scale x . theta_a), else -1. h = 0 gives IID agents; larger h means local optima that
/// disagree (so local gradients do not vanish at the pooled optimum).
public struct SyntheticProblem: Codable, Sendable, Equatable {
    public var agents = 16
    public var rowsPerAgent = 200
    public var features = 20
    public var loss: GLMLoss = .logistic
    public var heterogeneity = 1.0
    public var noise = 0.1
    /// Margin scale of the logistic model (larger = cleaner labels).
    public var scale = 4.0
    public var seed: UInt64 = 1
    /// When set (> 0), agents come in this many groups (agent a in group a % clusters) that share
    /// their local optimum and feature mean: collaboration helps inside a group and hurts across.
    /// nil or 0: every agent draws its own (the DSGD default).
    public var clusters: Int? = nil
    public init() {}

    public func validate() throws {
        guard agents >= 1 else { throw AgoraError.configuration("agents must be at least 1, got \(agents)", field: "synthetic") }
        guard rowsPerAgent >= 1 else {
            throw AgoraError.configuration("rowsPerAgent must be at least 1, got \(rowsPerAgent)", field: "synthetic")
        }
        guard features >= 1 else { throw AgoraError.configuration("features must be at least 1, got \(features)", field: "synthetic") }
        guard heterogeneity >= 0, heterogeneity.isFinite else {
            throw AgoraError.configuration("heterogeneity must be a non-negative number, got \(heterogeneity)", field: "synthetic")
        }
        if let c = clusters {
            guard c >= 0 else { throw AgoraError.configuration("clusters must be non-negative, got \(c)", field: "synthetic") }
        }
        guard noise >= 0, noise.isFinite else {
            throw AgoraError.configuration("noise must be a non-negative number, got \(noise)", field: "synthetic")
        }
        // The Float features, plus the Double copy reference solves make.
        try ResourceLimits.check(
            bytes: 12 * Double(agents) * Double(rowsPerAgent) * Double(features),
            for: "synthetic data of \(agents) x \(rowsPerAgent) rows x \(features) features")
    }

    /// The pooled data set and the agents' rows (agent a owns rows a*rowsPerAgent ..< (a+1)*rowsPerAgent).
    public func generate() throws -> (data: Dataset, partition: [[Int]]) {
        try validate()
        let d = features, n = agents * rowsPerAgent
        var rng = SeededGenerator(seed: seed, stream: 0x5E7)
        let s = 1 / Double(d).squareRoot()
        let star = (0..<d).map { _ in rng.normal() * s }
        var x = Matrix<Float>(rows: n, cols: d)
        var labels = [Int](repeating: 0, count: n)
        var targets = [Double](repeating: 0, count: n)
        let groups = clusters ?? 0
        var clusterRNG = SeededGenerator(seed: seed, stream: 0xC105)
        let shared: [([Double], [Double])] = (0..<max(0, groups)).map { _ in
            (star.map { $0 + heterogeneity * clusterRNG.normal() * s }, (0..<d).map { _ in heterogeneity * clusterRNG.normal() * s })
        }
        for a in 0..<agents {
            let theta: [Double], mu: [Double]
            if groups > 0 {
                (theta, mu) = shared[a % groups]
            } else {
                theta = star.map { $0 + heterogeneity * rng.normal() * s }
                mu = (0..<d).map { _ in heterogeneity * rng.normal() * s }
            }
            for r in 0..<rowsPerAgent {
                let i = a * rowsPerAgent + r
                var z = 0.0
                for k in 0..<d {
                    let v = mu[k] + rng.normal()
                    x[i, k] = Float(v)
                    z += Double(Float(v)) * theta[k]
                }
                switch loss {
                case .squared:
                    targets[i] = z + noise * rng.normal()
                case .logistic:
                    labels[i] = rng.uniform() < 1 / (1 + exp(-scale * z)) ? 1 : 0
                }
            }
        }
        var data = Dataset(
            name: "synthetic-\(loss.rawValue)", features: .dense(x), labels: labels,
            labelNames: loss == .logistic ? ["-1", "+1"] : ["0"])
        if loss == .squared { data.targets = targets }
        return (data, (0..<agents).map { a in Array((a * rowsPerAgent)..<((a + 1) * rowsPerAgent)) })
    }
}
