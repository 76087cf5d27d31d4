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
        // The Float features and, per row, its label and target.
        try ResourceLimits.check(
            bytes: Double(agents) * Double(rowsPerAgent) * (4 * Double(features) + 16),
            for: "synthetic data of \(agents) x \(rowsPerAgent) rows x \(features) features")
    }

    /// The pooled data set and the agents' rows (agent a owns rows a*rowsPerAgent ..< (a+1)*rowsPerAgent).
    public func generate() throws -> (data: Dataset, partition: [[Int]]) {
        let g = try generate(heldOutRowsPerAgent: 0)
        return (g.data, g.partition)
    }

    /// `generate()` and, with `heldOutRowsPerAgent` > 0, a second sample of that many rows per
    /// agent from the same agent's distribution (its optimum and feature mean), drawn from a stream
    /// of their own: the training data are `generate()`'s bit for bit. Agent a owns held-out rows
    /// a*heldOutRowsPerAgent ..< (a+1)*heldOutRowsPerAgent. What an agent's model is worth on data
    /// it has not trained on (the population objective the training loss estimates).
    public func generate(heldOutRowsPerAgent held: Int) throws -> (data: Dataset, partition: [[Int]], heldOut: Dataset?) {
        try validate()
        guard held >= 0 else { throw AgoraError.configuration("heldOutRowsPerAgent must be non-negative, got \(held)", field: "synthetic") }
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
        // One stream, drawn in the order of the plain loop (per agent its local optimum and mean
        // unless clustered; per row d normals, then the label's uniform or the noise's normal).
        // The draws are cheap and stay serial; the Box-Muller transforms (a logarithm and a cosine
        // per feature) and the rows run in parallel on chunks of agents: the data are the plain
        // loop's bit for bit.
        let slots = 2 * d + 2
        let chunkAgents = max(1, 32_768 / rowsPerAgent)
        var uniforms = [Double](repeating: 0, count: min(agents, chunkAgents) * rowsPerAgent * slots)
        // Per agent of the chunk, its optimum and feature mean (flat: the parallel rows read them
        // through pointers, not arrays of arrays whose reference counts the threads would share).
        var optima = [Double](), means = [Double]()
        // Every agent's optimum and mean, kept for the held-out rows (only when asked).
        var allOptima = [Double](), allMeans = [Double]()
        let pool = ThreadPool.shared
        var first = 0
        while first < agents {
            let count = min(chunkAgents, agents - first)
            optima.removeAll(keepingCapacity: true)
            means.removeAll(keepingCapacity: true)
            uniforms.withUnsafeMutableBufferPointer { ub in
                var o = 0
                for a in first..<(first + count) {
                    if groups > 0 {
                        optima += shared[a % groups].0
                        means += shared[a % groups].1
                    } else {
                        optima += star.map { $0 + heterogeneity * rng.normal() * s }
                        means += (0..<d).map { _ in heterogeneity * rng.normal() * s }
                    }
                    for _ in 0..<rowsPerAgent {
                        for _ in 0..<d {
                            (ub[o], ub[o + 1]) = rng.normalUniforms()
                            o += 2
                        }
                        switch loss {
                        case .squared: (ub[o], ub[o + 1]) = rng.normalUniforms()
                        case .logistic: ub[o] = rng.uniform()
                        }
                        o += 2
                    }
                }
            }
            if held > 0 {
                allOptima += optima
                allMeans += means
            }
            let rows = count * rowsPerAgent, base = first * rowsPerAgent
            let model = loss, sigma = noise, margin = scale, perAgent = rowsPerAgent
            uniforms.withUnsafeBufferPointer { ub in
                optima.withUnsafeBufferPointer { ob in
                    means.withUnsafeBufferPointer { mb in
                        x.storage.withUnsafeMutableBufferPointer { xb in
                            labels.withUnsafeMutableBufferPointer { lb in
                                targets.withUnsafeMutableBufferPointer { tb in
                                    let u = ub.baseAddress!, xs = SendableBuffer(xb.baseAddress!)
                                    let ls = SendableBuffer(lb.baseAddress!), ts = SendableBuffer(tb.baseAddress!)
                                    pool.parallelFor(rows, bytes: rows * slots * 8) { r in
                                        for j in r {
                                            let theta = ob.baseAddress! + (j / perAgent) * d, mu = mb.baseAddress! + (j / perAgent) * d
                                            let i = base + j
                                            // The row's draws in the order the plain loop took them.
                                            let draws = u + j * slots
                                            var slot = 0
                                            (ls.p[i], ts.p[i]) = Self.row(
                                                d, mean: mu, optimum: theta, into: xs.p + i * d, loss: model, noise: sigma, scale: margin,
                                                normal: {
                                                    defer { slot += 2 }
                                                    return SeededGenerator.normal(draws[slot], draws[slot + 1])
                                                }, uniform: { draws[slot] })
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            first += count
        }
        var data = Dataset(
            name: "synthetic-\(loss.rawValue)", features: .dense(x), labels: labels,
            labelNames: loss == .logistic ? ["-1", "+1"] : ["0"])
        if loss == .squared { data.targets = targets }
        let partition = (0..<agents).map { a in Array((a * rowsPerAgent)..<((a + 1) * rowsPerAgent)) }
        guard held > 0 else { return (data, partition, nil) }
        // The held-out rows: the same model per agent, each agent from a stream of its own, so the
        // agents run in parallel and the rows do not depend on the thread count.
        let m = agents * held, sigma = noise, margin = scale, model = loss
        var hx = Matrix<Float>(rows: m, cols: d)
        var hl = [Int](repeating: 0, count: m), ht = [Double](repeating: 0, count: m)
        allOptima.withUnsafeBufferPointer { ob in
            allMeans.withUnsafeBufferPointer { mb in
                hx.storage.withUnsafeMutableBufferPointer { xb in
                    hl.withUnsafeMutableBufferPointer { lb in
                        ht.withUnsafeMutableBufferPointer { tb in
                            let xs = SendableBuffer(xb.baseAddress!), ls = SendableBuffer(lb.baseAddress!),
                                ts = SendableBuffer(tb.baseAddress!)
                            let o = ob.baseAddress!, mu = mb.baseAddress!, seed = self.seed
                            pool.parallelFor(agents, bytes: m * d * 8) { range in
                                for a in range {
                                    var h = SeededGenerator(seed: seed, stream: 0x4E1D_0000_0000 &+ UInt64(a))
                                    for i in (a * held)..<((a + 1) * held) {
                                        (ls.p[i], ts.p[i]) = Self.row(
                                            d, mean: mu + a * d, optimum: o + a * d, into: xs.p + i * d, loss: model, noise: sigma,
                                            scale: margin, normal: { h.normal() }, uniform: { h.uniform() })
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        var heldOut = Dataset(name: data.name + "-held-out", features: .dense(hx), labels: hl, labelNames: data.labelNames)
        if model == .squared { heldOut.targets = ht }
        return (data, partition, heldOut)
    }
}

extension SyntheticProblem {
    /// One row of an agent's distribution, the one formula of the training and held-out rows:
    /// features x = mean + N(0, I) (stored as Float), then, with z = x . optimum, the label
    /// (logistic: 1 when `uniform()` < sigmoid(scale z)) or the target (squared: z + noise N(0, 1)).
    /// Returns (label, target); the normals and the uniform come from the caller, in that order.
    @inline(__always)
    static func row(
        _ d: Int, mean mu: UnsafePointer<Double>, optimum theta: UnsafePointer<Double>, into x: UnsafeMutablePointer<Float>,
        loss: GLMLoss, noise: Double, scale: Double, normal: () -> Double, uniform: () -> Double
    ) -> (Int, Double) {
        var z = 0.0
        for k in 0..<d {
            let v = Float(mu[k] + normal())
            x[k] = v
            z += Double(v) * theta[k]
        }
        switch loss {
        case .squared: return (0, z + noise * normal())
        case .logistic: return (uniform() < 1 / (1 + exp(-scale * z)) ? 1 : 0, 0)
        }
    }
}

/// A pointer the parallel generator's rows write through (each row to its own elements only).
private struct SendableBuffer<T>: @unchecked Sendable {
    let p: UnsafeMutablePointer<T>
    init(_ p: UnsafeMutablePointer<T>) { self.p = p }
}
