import AgoraKernels

/// Every outcome of Multinomial(N, p): type counts n with sum n = N, their probabilities, and per
/// type the conditional weights given n_i >= 1. Enumerated once, so expectations over outcomes are
/// exact dot products (gemv/gemm) rather than Monte-Carlo estimates.
public struct MultinomialOutcomes: Sendable {
    public let trials: Int
    public let probabilities: [Double]
    /// Outcome counts, [outcomes x types], as Double for BLAS.
    public let counts: Matrix<Double>
    /// P(n) for each outcome (computed from lgamma in log space; sums to 1 within rounding).
    public let pmf: [Double]
    /// Conditional weights given n_i >= 1, [types x outcomes]. Truncated: P(n) 1[n_i >= 1] /
    /// (1 - (1 - p_i)^N). Size-biased: P(n - e_i | N - 1) for n_i >= 1 (the outcome seen by a
    /// participant known to be of type i).
    public let conditional: Matrix<Double>
    /// Number of Monte-Carlo draws behind `pmf` when the outcomes were sampled; nil when exact.
    public let samples: Int?

    /// How to condition on "at least one participant of type i".
    public enum Conditioning: String, Codable, Sendable, CaseIterable {
        case truncated
        case sizeBiased = "size-biased"
    }

    /// Number of outcomes, C(N + I - 1, I - 1), as a Double (it can be astronomically large).
    public static func outcomeCount(trials n: Int, types k: Int) -> Double {
        guard k >= 1 else { return 0 }
        return Math.exp(logGamma(Double(n + k)) - logGamma(Double(n + 1)) - logGamma(Double(k)))
    }

    /// Largest enumeration accepted by default (about 40 MB of counts at I = 5).
    public static let defaultLimit = 1_000_000

    public init(
        trials: Int, probabilities p: [Double], conditioning: Conditioning = .truncated,
        limit: Int = MultinomialOutcomes.defaultLimit
    ) throws {
        let k = p.count
        guard k >= 1 else { throw AgoraError.configuration("p must have at least one type") }
        guard trials >= 1 else { throw AgoraError.configuration("N must be at least 1, got \(trials)") }
        let total = Self.outcomeCount(trials: trials, types: k)
        guard total <= Double(limit) else {
            throw AgoraError.configuration(
                cFormat(
                    "N = %ld with I = %ld types has %.4g outcomes, more than the exact-enumeration limit %ld; use fewer types or participants, or sample the outcomes (the sample-average estimator), which solves the sample-average problem and reports a standard error",
                    trials, k, total, limit))
        }
        self.trials = trials
        self.probabilities = p
        self.samples = nil
        var rows: [Int] = []
        var current = [Int](repeating: 0, count: k)
        func rec(_ i: Int, _ left: Int) {
            if i == k - 1 {
                current[i] = left
                rows.append(contentsOf: current)
                return
            }
            for c in stride(from: left, through: 0, by: -1) {
                current[i] = c
                rec(i + 1, left - c)
            }
        }
        rec(0, trials)
        let m = rows.count / k
        counts = try Matrix(rows: m, cols: k, storage: rows.map(Double.init))
        let logp = p.map { $0 > 0 ? Math.log($0) : -Double.infinity }
        // log c! for every count that can occur (the same logGamma values, looked up: at 888k
        // outcomes of 8 types the calls took a tenth of a second).
        let logFactorial = (0...trials).map { logGamma(Double($0 + 1)) }
        func logPMF(_ n: ArraySlice<Int>, _ total: Int) -> Double {
            var s = logFactorial[total]
            for (i, c) in n.enumerated() {
                s -= logFactorial[c]
                if c > 0 { s += Double(c) * logp[i] }
            }
            return s
        }
        var pm = [Double](repeating: 0, count: m)
        for o in 0..<m { pm[o] = Math.exp(logPMF(rows[(o * k)..<((o + 1) * k)], trials)) }
        pmf = pm
        var cond = Matrix<Double>(rows: k, cols: m)
        for i in 0..<k {
            switch conditioning {
            case .truncated:
                let z = 1 - Math.pow(1 - p[i], Double(trials))
                guard z > 0 else {
                    throw AgoraError.configuration("type \(i + 1) has probability 0: its conditional expectation is undefined")
                }
                for o in 0..<m where rows[o * k + i] >= 1 { cond[i, o] = pm[o] / z }
            case .sizeBiased:
                guard p[i] > 0 else {
                    throw AgoraError.configuration("type \(i + 1) has probability 0: its conditional expectation is undefined")
                }
                for o in 0..<m where rows[o * k + i] >= 1 {
                    var n = Array(rows[(o * k)..<((o + 1) * k)])
                    n[i] -= 1
                    cond[i, o] = Math.exp(logPMF(n[...], trials - 1))
                }
            }
        }
        conditional = cond
    }
}

extension MultinomialOutcomes {
    /// A sampled stand-in for the exact enumeration (sample-average approximation): `samples`
    /// draws of Multinomial(N, p) from `seed`, identical outcomes merged, `pmf` their empirical
    /// frequencies. Conditional weights use exact identities on top of the sample: truncated =
    /// frequencies restricted to n_i >= 1 and renormalised; size-biased = frequency * n_i / (N p_i),
    /// renormalised. Expectations are then unbiased (truncated: consistent) estimates whose standard
    /// error shrinks like 1/sqrt(samples).
    public init(
        trials: Int, probabilities p: [Double], sampling samples: Int, seed: UInt64,
        conditioning: Conditioning = .truncated
    ) throws {
        let k = p.count
        guard k >= 1 else { throw AgoraError.configuration("p must have at least one type") }
        guard trials >= 1 else { throw AgoraError.configuration("N must be at least 1, got \(trials)") }
        guard samples >= 1 else { throw AgoraError.configuration("the number of samples must be at least 1, got \(samples)") }
        guard Double(samples) * Double(trials) <= 2e9 else {
            throw AgoraError.configuration(
                "\(samples) samples of N = \(trials) draw \(Double(samples) * Double(trials)) participants; at most 2e9 are supported (use fewer samples)"
            )
        }
        var cdf = [Double](repeating: 0, count: k)
        var acc = 0.0
        for i in 0..<k {
            acc += p[i]
            cdf[i] = acc
        }
        var rng = SeededGenerator(seed: seed, stream: 0xC0_47AC7)
        var freq: [[Int]: Int] = [:]
        var order: [[Int]] = []
        var n = [Int](repeating: 0, count: k)
        for _ in 0..<samples {
            for i in 0..<k { n[i] = 0 }
            for _ in 0..<trials {
                let u = rng.uniform() * acc
                var i = 0
                while i < k - 1 && u >= cdf[i] { i += 1 }
                n[i] += 1
            }
            if let f = freq[n] {
                freq[n] = f + 1
            } else {
                freq[n] = 1
                order.append(n)
            }
        }
        let m = order.count
        var counts = Matrix<Double>(rows: m, cols: k)
        var pm = [Double](repeating: 0, count: m)
        for (o, row) in order.enumerated() {
            for i in 0..<k { counts[o, i] = Double(row[i]) }
            pm[o] = Double(freq[row]!) / Double(samples)
        }
        var cond = Matrix<Double>(rows: k, cols: m)
        for i in 0..<k {
            var z = 0.0
            for o in 0..<m where counts[o, i] >= 1 {
                let w = conditioning == .truncated ? pm[o] : pm[o] * counts[o, i] / (Double(trials) * p[i])
                cond[i, o] = w
                z += w
            }
            guard z > 0 else {
                throw AgoraError.configuration("no sampled outcome contains type \(i + 1) (p = \(p[i])): draw more samples")
            }
            for o in 0..<m { cond[i, o] /= z }
        }
        self.trials = trials
        self.probabilities = p
        self.counts = counts
        self.pmf = pm
        self.conditional = cond
        self.samples = samples
    }
}

/// log Gamma(x) (`Math.logGamma`: the reentrant C function).
@inline(__always) func logGamma(_ x: Double) -> Double { Math.logGamma(x) }
