import AgoraKernels

/// Measures whether misreporting pays in the market as implemented: for each client and each
/// misreport (cost x0.5, cost x2, data size x2, or any list of factors), the change of its true
/// utility when only it misreports, everything else (distances, others' reports) fixed; and
/// individual-rationality violations (U_i < 0) with true reports. The paper claims truthfulness;
/// this audit reports whatever it finds.
public enum IncentiveAudit {
    public struct Deviation: Codable, Sendable, Equatable {
        public var name: String
        public var sizeFactor: Double
        public var costFactor: Double
        public init(name: String, sizeFactor: Double = 1, costFactor: Double = 1) {
            self.name = name
            self.sizeFactor = sizeFactor
            self.costFactor = costFactor
        }
        public static let standard = [
            Deviation(name: "cost x0.5", costFactor: 0.5),
            Deviation(name: "cost x2", costFactor: 2),
            Deviation(name: "size x2", sizeFactor: 2),
        ]
    }

    /// Findings for one deviation across all audited (market, client) pairs.
    public struct Finding: Codable, Sendable {
        public var deviation: Deviation
        /// (market, client) pairs audited (clients that can deviate: all of them).
        public var cases: Int
        /// Pairs where the deviation raised true utility by more than `tolerance`.
        public var profitable: Int
        public var profitableFraction: Double
        /// Markets in which at least one client gains from this misreport.
        public var profitableMarkets: Int
        public var meanGain: Double
        public var worstGain: Double
        public var worstMarket: Int
        public var worstClient: Int
    }

    public struct Report: Codable, Sendable {
        public var markets: Int
        public var clients: Int
        public var findings: [Finding]
        /// Client-rounds with U_i < -tolerance under true reports.
        public var irViolations: Int
        public var worstIR: Double
        public var budgetResidualMax: Double
        public var tolerance: Double
    }

    /// Audits one market (true reports, given distances).
    public static func audit(
        market: ModelMarket, truth: [ClientEconomics], distances: Matrix<Double>, active: [Bool]? = nil,
        deviations: [Deviation] = Deviation.standard, tolerance: Double = 1e-9
    ) throws -> Report {
        try audit(market: market, markets: [(truth, distances, active)], deviations: deviations, tolerance: tolerance)
    }

    /// Audits many markets.
    public static func audit(
        market: ModelMarket, markets: [([ClientEconomics], Matrix<Double>, [Bool]?)],
        deviations: [Deviation] = Deviation.standard, tolerance: Double = 1e-9
    ) throws -> Report {
        guard !markets.isEmpty else { throw AgoraError.configuration("an audit needs at least one market") }
        for (k, m) in markets.enumerated() where m.0.count < 2 {
            throw AgoraError.configuration(
                "market \(k) has \(m.0.count) client\(m.0.count == 1 ? "" : "s"); a market needs at least 2 (nobody could trade, so nothing would be audited)"
            )
        }
        var gains = [[(Double, Int, Int)]](repeating: [], count: deviations.count)
        var ir = 0, worstIR = 0.0, budget = 0.0
        for (k, (truth, d, active)) in markets.enumerated() {
            let honest = try market.clear(reports: truth, truth: truth, distances: d, active: active)
            budget = max(budget, honest.budgetResidual)
            for i in truth.indices where active?[i] ?? true {
                if honest.utilities[i] < -tolerance { ir += 1 }
                worstIR = min(worstIR, honest.utilities[i])
            }
            for (q, dev) in deviations.enumerated() {
                for i in truth.indices where active?[i] ?? true {
                    var r = truth
                    r[i].dataSize *= dev.sizeFactor
                    r[i].cost *= dev.costFactor
                    let o = try market.clear(reports: r, truth: truth, distances: d, active: active)
                    gains[q].append((o.utilities[i] - honest.utilities[i], k, i))
                }
            }
        }
        let findings = deviations.enumerated().map { q, dev -> Finding in
            let g = gains[q]
            let worst = g.max { $0.0 < $1.0 } ?? (0, -1, -1)
            let prof = g.filter { $0.0 > tolerance }.count
            return Finding(
                deviation: dev, cases: g.count, profitable: prof,
                profitableFraction: g.isEmpty ? 0 : Double(prof) / Double(g.count),
                profitableMarkets: Set(g.filter { $0.0 > tolerance }.map(\.1)).count,
                meanGain: g.isEmpty ? 0 : g.reduce(0) { $0 + $1.0 } / Double(g.count),
                worstGain: worst.0, worstMarket: worst.1, worstClient: worst.2)
        }
        return Report(
            markets: markets.count, clients: markets.first?.0.count ?? 0, findings: findings, irViolations: ir,
            worstIR: worstIR, budgetResidualMax: budget, tolerance: tolerance)
    }

    /// How random markets are drawn for `randomMarkets`.
    public struct MarketDraw: Codable, Sendable, Equatable {
        public var clients = 10
        /// N ~ uniform[minSize, maxSize].
        public var minSize = 1000.0
        public var maxSize = 10000.0
        /// c ~ uniform[minCost, maxCost].
        public var minCost = 0.5
        public var maxCost = 2.0
        public var eagerness = 5e5
        /// Distances: 1 - cos of random Gaussian update directions in this many dimensions (few
        /// dimensions give spread-out, correlated distances; many give distances near 1).
        public var dimensions = 5
        public init() {}

        public func validate() throws {
            guard clients >= 2 else { throw AgoraError.configuration("random markets need at least 2 clients, got \(clients)") }
            guard minSize > 0, maxSize >= minSize else {
                throw AgoraError.configuration("sizes must satisfy 0 < minSize <= maxSize, got \(minSize), \(maxSize)")
            }
            guard minCost >= 0, maxCost >= minCost else {
                throw AgoraError.configuration("costs must satisfy 0 <= minCost <= maxCost, got \(minCost), \(maxCost)")
            }
            guard eagerness >= 0 else { throw AgoraError.configuration("eagerness must be non-negative, got \(eagerness)") }
            guard dimensions >= 1 else { throw AgoraError.configuration("dimensions must be at least 1, got \(dimensions)") }
        }
    }

    /// `count` seeded random markets (true values and cosine distances).
    public static func randomMarkets(_ draw: MarketDraw, count: Int, seed: UInt64) throws -> [([ClientEconomics], Matrix<Double>, [Bool]?)]
    {
        try draw.validate()
        guard count >= 1 else { throw AgoraError.configuration("the number of markets must be at least 1, got \(count)") }
        // Per market: distances and directions (Double), the client descriptions.
        try ResourceLimits.check(
            bytes: Double(count) * Double(draw.clients) * (8 * Double(draw.clients + draw.dimensions) + 64),
            for: "\(count) random markets of \(draw.clients) clients")
        var rng = SeededGenerator(seed: seed, stream: 0xA0D1)
        return (0..<count).map { _ in
            let m = draw.clients
            let econ = (0..<m).map { _ in
                ClientEconomics(
                    dataSize: (draw.minSize + rng.uniform() * (draw.maxSize - draw.minSize)).rounded(),
                    cost: draw.minCost + rng.uniform() * (draw.maxCost - draw.minCost), eagerness: draw.eagerness)
            }
            let dirs: Matrix<Double> = rng.normalMatrix(rows: m, cols: draw.dimensions)
            let geo = try! Kernels.updateGeometry(dirs, origin: [Double](repeating: 0, count: draw.dimensions))
            let d = ModelMarket().distances(geo)
            return (econ, d, nil)
        }
    }
}
