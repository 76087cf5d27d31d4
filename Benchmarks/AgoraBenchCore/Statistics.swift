import Foundation

/// Statistics for comparing benchmark timings: the Wilcoxon signed-rank test (paired A/B sessions),
/// the Mann-Whitney U test (step detection over history), a bootstrap interval of the ratio, Holm's
/// correction across benchmarks.
///
/// Timings are not normal (right-skewed, occasional outliers from the OS), so the tests are
/// rank-based and the interval is a percentile bootstrap of medians; neither assumes a shape.
public enum Statistics {
    /// Median of a non-empty sample (mean of the two middle values for an even count).
    public static func median(_ x: [Double]) -> Double {
        precondition(!x.isEmpty, "median of an empty sample")
        let s = x.sorted(), n = s.count
        return n % 2 == 1 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2])
    }

    /// Mid-ranks (1-based; tied values share the mean of their ranks) of the pooled values, and the
    /// tie correction term sum(t^3 - t) over tie groups.
    static func midRanks(_ pooled: [Double]) -> (ranks: [Double], tieTerm: Double) {
        let order = pooled.indices.sorted { pooled[$0] < pooled[$1] }
        var ranks = [Double](repeating: 0, count: pooled.count)
        var tie = 0.0, i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && pooled[order[j + 1]] == pooled[order[i]] { j += 1 }
            let r = Double(i + j + 2) / 2
            for k in i...j { ranks[order[k]] = r }
            let t = Double(j - i + 1)
            tie += t * t * t - t
            i = j + 1
        }
        return (ranks, tie)
    }

    /// Result of a Mann-Whitney U test.
    public struct MannWhitney: Sendable, Equatable {
        /// U of the first sample: the number of pairs (a_i, b_j) with a_i > b_j, ties counting 1/2.
        public var u: Double
        /// Two-sided p-value.
        public var p: Double
        /// Whether the exact null distribution was used (no ties, both samples <= 50), else the
        /// normal approximation with tie and continuity corrections.
        public var exact: Bool
    }

    /// Two-sided Mann-Whitney U test of "a and b come from the same distribution" (scipy's
    /// `mannwhitneyu(a, b, alternative='two-sided')`: exact when there are no ties and both samples
    /// are small, asymptotic with continuity correction otherwise).
    public static func mannWhitney(_ a: [Double], _ b: [Double]) -> MannWhitney {
        let n1 = a.count, n2 = b.count
        precondition(n1 > 0 && n2 > 0, "Mann-Whitney needs two non-empty samples")
        let (ranks, tie) = midRanks(a + b)
        let r1 = ranks[0..<n1].reduce(0, +)
        let u1 = r1 - Double(n1 * (n1 + 1)) / 2
        let u2 = Double(n1 * n2) - u1
        let uMax = max(u1, u2)
        if tie == 0 && n1 <= 50 && n2 <= 50 {
            // P(U >= uMax) from the exact null distribution: counts c(n1, n2, u) of arrangements,
            // c(i, j, u) = c(i - 1, j, u - j) + c(i, j - 1, u), in probabilities to stay finite.
            let maxU = n1 * n2
            // f[j][u] for the current i.
            var f = [[Double]](repeating: [Double](repeating: 0, count: maxU + 1), count: n2 + 1)
            for j in 0...n2 { f[j][0] = 1 }  // i = 0: one arrangement, U = 0
            do {
                for i in 1...n1 {
                    var g = [[Double]](repeating: [Double](repeating: 0, count: maxU + 1), count: n2 + 1)
                    g[0][0] = 1  // j = 0: U = 0
                    for j in 1...n2 {
                        // Probability form: p(i,j,u) = i/(i+j) p(i-1,j,u-j) + j/(i+j) p(i,j-1,u)
                        let wi = Double(i) / Double(i + j), wj = Double(j) / Double(i + j)
                        for u in 0...(i * j) {
                            g[j][u] = wj * g[j - 1][u] + (u >= j ? wi * f[j][u - j] : 0)
                        }
                    }
                    f = g
                }
            }
            let dist = f[n2]
            var tail = 0.0
            for u in 0...maxU where Double(u) >= uMax - 1e-9 { tail += dist[u] }
            return MannWhitney(u: u1, p: min(1, 2 * tail), exact: true)
        }
        let n = Double(n1 + n2)
        let mu = Double(n1 * n2) / 2
        let sigma = (Double(n1 * n2) / 12 * ((n + 1) - tie / (n * (n - 1)))).squareRoot()
        guard sigma > 0 else { return MannWhitney(u: u1, p: 1, exact: false) }
        let z = (uMax - mu - 0.5) / sigma
        return MannWhitney(u: u1, p: min(1, erfc(z / 2.0.squareRoot())), exact: false)
    }

    /// Result of a Wilcoxon signed-rank test.
    public struct SignedRank: Sendable, Equatable {
        /// min(W+, W-): the smaller of the rank sums of the positive and the negative differences.
        public var statistic: Double
        /// Two-sided p-value.
        public var p: Double
        public var exact: Bool
    }

    /// Two-sided Wilcoxon signed-rank test of "the paired differences are symmetric about 0"
    /// (scipy's `wilcoxon(d)`: zeros dropped; exact when there are no ties and at most 50
    /// differences, otherwise the normal approximation with tie and continuity corrections).
    public static func wilcoxonSignedRank(_ differences: [Double]) -> SignedRank {
        let d = differences.filter { $0 != 0 }
        let n = d.count
        guard n > 0 else { return SignedRank(statistic: 0, p: 1, exact: true) }
        let (ranks, tie) = midRanks(d.map(abs))
        var plus = 0.0
        for k in 0..<n where d[k] > 0 { plus += ranks[k] }
        let total = Double(n * (n + 1)) / 2
        let t = min(plus, total - plus)
        if tie == 0 && n <= 50 {
            // Null distribution of W+: each rank 1...n is in the positive set with probability 1/2.
            let maxW = n * (n + 1) / 2
            var f = [Double](repeating: 0, count: maxW + 1)
            f[0] = 1
            for r in 1...n {
                for w in stride(from: maxW, through: r, by: -1) { f[w] = 0.5 * (f[w] + f[w - r]) }
                for w in 0..<min(r, maxW + 1) { f[w] *= 0.5 }
            }
            var tail = 0.0
            for w in 0...maxW where Double(w) <= t + 1e-9 { tail += f[w] }
            return SignedRank(statistic: t, p: min(1, 2 * tail), exact: true)
        }
        let nn = Double(n)
        let mean = nn * (nn + 1) / 4
        let sd = (nn * (nn + 1) * (2 * nn + 1) / 24 - tie / 48).squareRoot()
        guard sd > 0 else { return SignedRank(statistic: t, p: 1, exact: false) }
        let z = max(0, abs(t - mean) - 0.5) / sd
        return SignedRank(statistic: t, p: min(1, erfc(z / 2.0.squareRoot())), exact: false)
    }

    /// Percentile-bootstrap interval of exp(median(x)) (x: paired log ratios), resampling pairs.
    public static func bootstrapPairedRatioInterval(
        _ logRatios: [Double], level: Double = 0.95, resamples: Int = 2000,
        seed: UInt64 = 0x5eed
    ) -> (low: Double, high: Double) {
        var rng = SplitMix64(seed: seed)
        var stats: [Double] = []
        stats.reserveCapacity(resamples)
        var r = logRatios
        for _ in 0..<resamples {
            for k in r.indices { r[k] = logRatios[Int(rng.next() % UInt64(logRatios.count))] }
            stats.append(median(r))
        }
        stats.sort()
        let lo = Int(((1 - level) / 2 * Double(resamples)).rounded(.down))
        let hi = min(resamples - 1, Int(((1 + level) / 2 * Double(resamples)).rounded(.up)) - 1)
        return (exp(stats[lo]), exp(stats[hi]))
    }

    /// Holm's step-down adjustment of p-values (family-wise error control across the benchmarks of
    /// one comparison): adjusted p_(k) = max over j <= k of min(1, (m - j + 1) p_(j)).
    public static func holm(_ p: [Double]) -> [Double] {
        let m = p.count
        let order = p.indices.sorted { p[$0] < p[$1] }
        var adjusted = [Double](repeating: 1, count: m)
        var running = 0.0
        for (k, i) in order.enumerated() {
            running = max(running, min(1, Double(m - k) * p[i]))
            adjusted[i] = running
        }
        return adjusted
    }
}

/// A small seeded generator (splitmix64) for the bootstrap draws: this module does
/// not link the kernels' generator.
public struct SplitMix64: Sendable {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The verdict of an interleaved A/B comparison for one benchmark.
public enum ABVerdict: String, Codable, Sendable {
    case faster, slower
    case noChange = "no change"
}

/// One benchmark's A/B result: each side's block medians (paired by round), their ratio, its
/// interval, the test and the verdict.
public struct ABResult: Codable, Sendable, Equatable {
    public var name: String
    public var base_us: [Double]
    public var head_us: [Double]
    /// median(head) / median(base).
    public var ratio: Double
    public var ratio_low: Double
    public var ratio_high: Double
    public var p_value: Double
    /// Holm-adjusted across the benchmarks of the comparison.
    public var p_adjusted: Double
    public var verdict: ABVerdict
    /// Largest relative difference between the two sides' answer digests.
    public var answer_difference: Double
    public var answers_differ: Bool
    /// Slower beyond the gate's threshold (the exit status of `ab --gate`).
    public var gated: Bool
}

/// The decision rule of the A/B comparison.
///
/// A benchmark is "slower" (or "faster") when the Wilcoxon signed-rank test of the paired log
/// ratios is significant at `alpha` after Holm's correction across benchmarks, the
/// bootstrap interval of the ratio excludes 1, and the ratio differs from 1 by at least
/// `minimumEffect`; otherwise "no change". Only a slower verdict with ratio - 1 > `threshold`
/// fails the gate.
public struct ABRule: Codable, Sendable, Equatable {
    public var alpha: Double
    public var minimumEffect: Double
    public var threshold: Double
    public var answerTolerance: Double
    public init(alpha: Double = 0.05, minimumEffect: Double = 0.02, threshold: Double = 0.05, answerTolerance: Double = 1e-5) {
        self.alpha = alpha
        self.minimumEffect = minimumEffect
        self.threshold = threshold
        self.answerTolerance = answerTolerance
    }

    /// Results for benchmarks given as (name, base blocks, head blocks, base digest, head digest),
    /// where base[r] and head[r] were measured back to back (round r of the interleaving): the
    /// statistic is the paired log ratio ln(head[r] / base[r]), so a drift of the machine's speed
    /// that hits both members of a pair cancels. Ratio: exp(median of the log ratios); test:
    /// Wilcoxon signed-rank; interval: bootstrap over pairs.
    public func compare(_ rows: [(name: String, base: [Double], head: [Double], baseDigest: [Double], headDigest: [Double])]) -> [ABResult]
    {
        let logs = rows.map { r in zip(r.base, r.head).map { log($0.1 / $0.0) } }
        let tests = logs.map { Statistics.wilcoxonSignedRank($0) }
        let adjusted = Statistics.holm(tests.map(\.p))
        return rows.indices.map { k in
            let r = rows[k]
            let ratio = exp(Statistics.median(logs[k]))
            let ci = Statistics.bootstrapPairedRatioInterval(logs[k], seed: 0x5eed &+ UInt64(k))
            let significant = adjusted[k] < alpha && abs(ratio - 1) >= minimumEffect
            let verdict: ABVerdict = significant && ci.low > 1 ? .slower : (significant && ci.high < 1 ? .faster : .noChange)
            let diff = Self.digestDifference(r.baseDigest, r.headDigest)
            return ABResult(
                name: r.name, base_us: r.base, head_us: r.head, ratio: ratio, ratio_low: ci.low, ratio_high: ci.high,
                p_value: tests[k].p, p_adjusted: adjusted[k], verdict: verdict, answer_difference: diff,
                answers_differ: diff > answerTolerance, gated: verdict == .slower && ratio - 1 > threshold)
        }
    }

    /// max_k |a_k - b_k| / max(|a_k|, |b_k|, 1e-30); infinity when the lengths differ.
    public static func digestDifference(_ a: [Double], _ b: [Double]) -> Double {
        guard a.count == b.count else { return .infinity }
        return zip(a, b).reduce(0) { acc, p in
            let d = abs(p.0 - p.1)
            return d == 0 ? acc : max(acc, d / max(abs(p.0), abs(p.1), 1e-30))
        }
    }
}
