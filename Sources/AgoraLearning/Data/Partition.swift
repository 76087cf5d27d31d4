import AgoraKernels
import Foundation

/// How a data set is split across agents. Every scheme is seeded and reproducible, uses every row
/// exactly once, and reports per-agent sizes and label histograms.
public enum PartitionScheme: Sendable, Equatable, Codable, CustomStringConvertible {
    /// Shuffled and cut into near-equal parts.
    case iid
    /// Label skew: for each class, agent shares drawn from Dirichlet(beta) (small beta = few
    /// classes per agent; large beta approaches IID).
    case dirichlet(beta: Double)
    /// Rows sorted by label, cut into agents * shardsPerAgent shards, each agent gets that many.
    case shards(perAgent: Int)
    /// Classes cut into `groups` contiguous groups and agents into as many contiguous groups;
    /// agent group k holds only class group k, split IID inside the group. The paper's "Cluster"
    /// (3 groups, 9 clients) and "Skew" (2 disjoint 5-class groups, 10 clients) partitions.
    /// With more groups than classes (binary data) the groups differ by label mix instead: group k
    /// sits at position (k + 1/2)/G on [0, 1], class c at (c + 1/2)/C, and each class's rows go to
    /// the groups in proportion to exp(-(distance)^2 / (2 (1/(2G))^2)); for G = 3 on binary data
    /// group 0 is almost all class 0, group 2 almost all class 1, group 1 balanced.
    case classGroups(groups: Int)
    /// IID labels, sizes proportional to Dirichlet(alpha) shares (at least one row each).
    case quantitySkew(alpha: Double)

    public var description: String {
        switch self {
        case .iid: return "iid"
        case let .dirichlet(b): return "dirichlet:\(b)"
        case let .shards(s): return "shards:\(s)"
        case let .classGroups(g): return "groups:\(g)"
        case let .quantitySkew(a): return "quantity:\(a)"
        }
    }

    /// Parses `iid`, `dirichlet:BETA`, `shards:S`, `groups:G` (also `cluster:G`, and `skew` = 2
    /// groups), `quantity:ALPHA`.
    public init(parsing text: String) throws {
        let parts = text.lowercased().split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        let name = parts.first ?? ""
        /// A positive finite number after the colon (and nothing after it).
        func num(_ what: String) throws -> Double {
            guard parts.count == 2, let v = Double(parts[1]), v.isFinite, v > 0 else {
                throw AgoraError.configuration("'\(text)': expected \(name):\(what) with a positive number \(what)", field: "partition")
            }
            return v
        }
        /// A whole count from 1 to 1e6 after the colon.
        func count(_ what: String) throws -> Int {
            guard parts.count == 2, let v = Int(parts[1]), v >= 1, v <= 1_000_000 else {
                throw AgoraError.configuration(
                    "'\(text)': expected \(name):\(what) with a whole number \(what) from 1 to 1000000", field: "partition")
            }
            return v
        }
        func noArgument() throws {
            guard parts.count == 1 else { throw AgoraError.configuration("'\(text)': '\(name)' takes no argument", field: "partition") }
        }
        switch name {
        case "iid":
            try noArgument()
            self = .iid
        case "dirichlet", "dir": self = .dirichlet(beta: try num("BETA"))
        case "shards": self = .shards(perAgent: try count("S"))
        case "groups", "cluster", "clusters": self = .classGroups(groups: try count("G"))
        case "skew": self = .classGroups(groups: parts.count == 2 ? try count("G") : 2)
        case "quantity", "quantity-skew": self = .quantitySkew(alpha: try num("ALPHA"))
        default:
            throw AgoraError.configuration(
                "unknown partition '\(text)'; expected iid, dirichlet:BETA, shards:S, groups:G (cluster:G), skew, quantity:ALPHA",
                field: "partition")
        }
    }
}

/// The result of partitioning: row indices per agent.
public struct Partition: Sendable {
    public let agents: [[Int]]
    public let classes: Int
    public let labels: [Int]

    public var sizes: [Int] { agents.map(\.count) }
    /// Label histogram per agent, [agents][classes].
    public var labelHistograms: [[Int]] {
        agents.map { rows in
            var h = [Int](repeating: 0, count: classes)
            for r in rows { h[labels[r]] += 1 }
            return h
        }
    }

    /// Splits rows with `labels` (classes 0..<classes) across `count` agents, each with at least
    /// `minRows` rows. A Dirichlet draw that leaves an agent short is redrawn (the reference code's
    /// convention), up to 1000 times; every other scheme, and a Dirichlet split that never
    /// satisfies the minimum, is refused with the agent and its size.
    public init(labels: [Int], classes: Int, agents count: Int, scheme: PartitionScheme, seed: UInt64, minRows: Int = 1) throws {
        let n = labels.count
        guard count >= 1 else {
            throw AgoraError.configuration("the number of agents must be at least 1, got \(count)", field: "partition")
        }
        guard n >= count else {
            throw AgoraError.configuration("\(n) rows cannot give each of \(count) agents at least one row", field: "partition")
        }
        guard minRows >= 1, n >= count * minRows else {
            throw AgoraError.configuration("\(n) rows cannot give each of \(count) agents at least \(minRows) rows", field: "partition")
        }
        self.labels = labels
        self.classes = classes
        var rng = SeededGenerator(seed: seed, stream: 0x9A27)
        var byClass = [[Int]](repeating: [], count: classes)
        for (r, l) in labels.enumerated() { byClass[l].append(r) }
        for c in 0..<classes { byClass[c].shuffle(using: &rng) }
        var out = [[Int]](repeating: [], count: count)
        switch scheme {
        case .iid:
            var all = Array(0..<n)
            all.shuffle(using: &rng)
            for (k, r) in all.enumerated() { out[k % count].append(r) }
        case let .dirichlet(beta):
            guard beta > 0, beta.isFinite else {
                throw AgoraError.configuration("dirichlet beta must be positive, got \(beta)", field: "partition")
            }
            var attempt = 0
            while true {
                out = [[Int]](repeating: [], count: count)
                for c in 0..<classes {
                    let shares = rng.dirichlet(count: count, alpha: beta)
                    let rows = byClass[c]
                    let cuts = Partition.cuts(total: rows.count, shares: shares)
                    for a in 0..<count { out[a].append(contentsOf: rows[cuts[a]..<cuts[a + 1]]) }
                }
                attempt += 1
                let smallest = out.map(\.count).min() ?? 0
                if minRows <= 1 || smallest >= minRows { break }
                guard attempt < 1000 else {
                    throw AgoraError.configuration(
                        "no dirichlet:\(beta) split in 1000 draws gave each of \(count) agents at least \(minRows) rows (the last left one with \(smallest)): use fewer agents, a larger beta or a smaller minimum",
                        field: "partition")
                }
            }
            // Never leave an agent empty: give it a row from the largest agent.
            for a in 0..<count where out[a].isEmpty {
                let donor = out.indices.max { out[$0].count < out[$1].count }!
                out[a].append(out[donor].removeLast())
            }
        case let .shards(s):
            guard s >= 1 else { throw AgoraError.configuration("shards per agent must be at least 1, got \(s)", field: "partition") }
            let total = count * s
            guard n >= total else { throw AgoraError.configuration("\(n) rows cannot make \(total) shards", field: "partition") }
            let sorted = (0..<classes).flatMap { byClass[$0] }
            var order = Array(0..<total)
            order.shuffle(using: &rng)
            for (k, shard) in order.enumerated() {
                let lo = shard * n / total, hi = (shard + 1) * n / total
                out[k / s].append(contentsOf: sorted[lo..<hi])
            }
        case let .classGroups(g):
            guard g >= 1, g <= count else {
                throw AgoraError.configuration("groups:\(g) needs 1 <= G <= agents (\(count))", field: "partition")
            }
            let ag = (0..<g).map { k in (k * count / g)..<((k + 1) * count / g) }
            var groupRows = [[Int]](repeating: [], count: g)
            if g <= classes {
                for k in 0..<g { groupRows[k] = ((k * classes / g)..<((k + 1) * classes / g)).flatMap { byClass[$0] } }
            } else {
                // Label-mix groups: each class's rows shared among the groups by a Gaussian weight
                // of the distance between the group's and the class's positions on [0, 1].
                let sigma = 1 / (2 * Double(g))
                for c in 0..<classes {
                    let pc = (Double(c) + 0.5) / Double(classes)
                    let w = (0..<g).map { k -> Double in
                        let d = (Double(k) + 0.5) / Double(g) - pc
                        return exp(-d * d / (2 * sigma * sigma))
                    }
                    let cuts = Partition.cuts(total: byClass[c].count, shares: w)
                    for k in 0..<g { groupRows[k].append(contentsOf: byClass[c][cuts[k]..<cuts[k + 1]]) }
                }
            }
            for k in 0..<g {
                var rows = groupRows[k]
                rows.shuffle(using: &rng)
                for (j, r) in rows.enumerated() { out[ag[k].lowerBound + j % ag[k].count].append(r) }
            }
        case let .quantitySkew(alpha):
            guard alpha > 0, alpha.isFinite else {
                throw AgoraError.configuration("quantity alpha must be positive, got \(alpha)", field: "partition")
            }
            var all = Array(0..<n)
            all.shuffle(using: &rng)
            var shares = rng.dirichlet(count: count, alpha: alpha)
            // At least one row each: reserve them, share the rest.
            let rest = n - count
            let cuts = Partition.cuts(total: rest, shares: shares)
            var pos = 0
            for a in 0..<count {
                let take = 1 + cuts[a + 1] - cuts[a]
                out[a].append(contentsOf: all[pos..<(pos + take)])
                pos += take
            }
            shares.removeAll()
        }
        if let short = out.indices.first(where: { out[$0].count < minRows }) {
            throw AgoraError.configuration(
                "agent \(short) gets \(out[short].count) rows under the \(scheme) partition; every agent needs at least \(minRows): use fewer agents or another partition",
                field: "partition")
        }
        for a in 0..<count { out[a].sort() }
        agents = out
    }

    /// Cut points 0 = c_0 <= ... <= c_K = total with c_{k+1} - c_k about total * shares_k
    /// (cumulative rounding, so they always sum to total).
    static func cuts(total: Int, shares: [Double]) -> [Int] {
        var c = [0]
        var acc = 0.0
        let s = shares.reduce(0, +)
        for (k, v) in shares.enumerated() {
            acc += v
            c.append(k == shares.count - 1 ? total : min(total, Int((acc / s * Double(total)).rounded())))
        }
        return c
    }
}

extension SeededGenerator {
    /// Gamma(shape, 1) by Marsaglia and Tsang (shape < 1 through the boost Gamma(a + 1) U^(1/a)).
    public mutating func gamma(shape a: Double) -> Double { gammaAndLog(shape: a).value }

    /// A Gamma(shape, 1) draw and its logarithm, from the same random numbers. For a tiny shape
    /// the value underflows to 0 (U^(1/a) with a = 1e-5) while the logarithm stays exact.
    mutating func gammaAndLog(shape a: Double) -> (value: Double, log: Double) {
        if a < 1 {
            var u = uniform()
            while u <= 0 { u = uniform() }
            let boost = gammaAndLog(shape: a + 1)
            return (boost.value * pow(u, 1 / a), boost.log + log(u) / a)
        }
        let d = a - 1.0 / 3, c = 1 / (9 * d).squareRoot()
        while true {
            var x = 0.0, v = 0.0
            repeat {
                x = normal()
                v = 1 + c * x
            } while v <= 0
            v = v * v * v
            let u = uniform()
            if u < 1 - 0.0331 * x * x * x * x { return (d * v, log(d * v)) }
            if u > 0, log(u) < 0.5 * x * x + d * (1 - v + log(v)) { return (d * v, log(d * v)) }
        }
    }

    /// A Dirichlet(alpha, ..., alpha) draw of `count` shares. When every Gamma draw underflows (a
    /// tiny alpha), the shares come from the draws' logarithms (the largest gets almost all), not
    /// from a silent fallback to equal shares.
    public mutating func dirichlet(count: Int, alpha: Double) -> [Double] {
        let draws = (0..<count).map { _ in gammaAndLog(shape: alpha) }
        let s = draws.reduce(0) { $0 + $1.value }
        if s > 0 && s.isFinite { return draws.map { $0.value / s } }
        guard let top = draws.map(\.log).max(), top.isFinite else { return [Double](repeating: 1 / Double(count), count: count) }
        let scaled = draws.map { exp($0.log - top) }
        let total = scaled.reduce(0, +)
        return scaled.map { $0 / total }
    }
}
