import AgoraKernels

/// What a client tells the market (or what is true about it): data size N, the cost c of exporting
/// its model once (per importer), and its eagerness K >= 0 (K = 0: a pure seller that never imports).
public struct ClientEconomics: Codable, Sendable, Equatable {
    public var dataSize: Double
    public var cost: Double
    public var eagerness: Double
    public init(dataSize: Double, cost: Double, eagerness: Double) {
        self.dataSize = dataSize
        self.cost = cost
        self.eagerness = eagerness
    }

    /// Checks one client's numbers, naming the client and field.
    public func validate(client i: Int, what: String = "report") throws {
        guard dataSize.isFinite, dataSize > 0 else {
            throw AgoraError.configuration("client \(i) \(what): data size N must be a positive finite number, got \(dataSize)")
        }
        guard cost.isFinite, cost >= 0 else {
            throw AgoraError.configuration("client \(i) \(what): cost c must be a non-negative finite number, got \(cost)")
        }
        guard eagerness.isFinite, eagerness >= 0 else {
            throw AgoraError.configuration("client \(i) \(what): eagerness K must be a non-negative finite number, got \(eagerness)")
        }
    }
}

/// The distance between two clients' models, both measured as updates u = theta - theta0 from the
/// common initial model.
public enum MarketDistance: String, Codable, Sendable, CaseIterable {
    /// d = 1 - cos(u_i, u_j) (the reference's choice), in [0, 2].
    case cosine
    /// d = ||u_i - u_j||^2.
    case squaredL2 = "squared-l2"
}

/// Order among candidates with equal thresholds in the greedy graph.
public enum MarketTieBreak: String, Codable, Sendable, CaseIterable {
    /// Lower client index first (the reference code's stable sort; it concentrates purchases on
    /// low indices when clients are identical).
    case index
    /// A seeded random order, drawn anew for every market (spreads purchases among equals).
    case random
}

/// The gain of i's data from imports: G(n) = sqrt(K/N) - sqrt(K/n), n = N + sum of imported N_j.
public enum MarketGain {
    public static func gain(eagerness k: Double, own: Double, total: Double) -> Double {
        marginal(eagerness: k, before: own, added: total - own)
    }

    /// How many partners of a client's own size N it can buy before the next one's marginal gain
    /// falls to the lowest possible price, the partner's cost c (the distance charge only adds to
    /// it): the largest p with G(N + p N) - G(N + (p - 1) N) > c, at most `cap`. The economy's cap
    /// on the graph's in-degree: with K = 5e5, N = 5000 and c = 1 it is 2.
    public static func affordablePartners(eagerness k: Double, size n: Double, cost c: Double, cap: Int = 1000) -> Int {
        var p = 0
        while p < cap, marginal(eagerness: k, before: n * Double(p + 1), added: n) > c { p += 1 }
        return p
    }

    /// The smallest eagerness K (times 1 + 1e-9) at which a client of size N can afford `partners`
    /// partners of its own size at price c: the p-th such partner is worth
    /// sqrt(K) (1/sqrt(p N) - 1/sqrt((p + 1) N)), so K = N c^2 / (1/sqrt(P) - 1/sqrt(P + 1))^2.
    /// The inverse of `affordablePartners` (tested): at N = 5000, c = 1 and 9 partners, 1.71e7.
    public static func eagerness(affording partners: Int, size n: Double, cost c: Double) -> Double {
        guard partners > 0 else { return 0 }
        let p = Double(partners)
        let step = 1 / p.squareRoot() - 1 / (p + 1).squareRoot()
        return n * c * c / (step * step) * (1 + 1e-9)
    }

    /// G(before + added) - G(before) = sqrt(K) (1/sqrt(b) - 1/sqrt(b + a)), in the cancellation-free
    /// form sqrt(K) a / (sqrt(b) sqrt(b + a) (sqrt(b) + sqrt(b + a))).
    public static func marginal(eagerness k: Double, before b: Double, added a: Double) -> Double {
        if a == 0 || k == 0 { return 0 }
        let sb = b.squareRoot(), sa = (b + a).squareRoot()
        return k.squareRoot() * a / (sb * sa * (sb + sa))
    }

    /// The purchase threshold: the unique x > N with sqrt(K/(x - N)) - sqrt(K/x) = w, i.e. the total
    /// data size below which adding N more is worth the price w. +inf when w <= 0 (always worth it).
    ///
    /// Exact solve: with b = sqrt(x), a = sqrt(x - N) and delta = b - a in (0, sqrt N), the equation
    /// is the quartic h(delta) = w delta^4 + 4 sqrt(K) delta^3 - w N^2 = 0. h is increasing and convex
    /// on delta > 0, so Newton started at an upper bound of the root, min(sqrt N, (w N^2 / 4 sqrt K)^(1/3)),
    /// decreases monotonically onto it (the bracket [0, current] always holds the root) and never
    /// fails. Then x = a^2 + N with a = 2 sqrt(K) delta^2 / (w (N + delta^2)) (no cancellation).
    /// Returns (x, Newton iterations). The reference code's fsolve started at 3N instead lands below
    /// N in about a quarter of cases, always rejecting a partner; that behaviour is not reproduced.
    public static func threshold(eagerness k: Double, size n: Double, price w: Double) -> (x: Double, iterations: Int) {
        if !(w > 0) { return (.infinity, 0) }
        if k == 0 { return (n, 0) }  // nothing is ever worth buying: no x above N qualifies
        let s = k.squareRoot()
        var delta = min(n.squareRoot(), Math.cbrt(w * n * n / (4 * s)))
        var it = 0
        while it < 100 {
            let d2 = delta * delta
            let h = w * d2 * d2 + 4 * s * d2 * delta - w * n * n
            let dh = 4 * w * d2 * delta + 12 * s * d2
            if dh <= 0 { break }
            let next = delta - h / dh
            it += 1
            // Monotone from the right: stop when Newton stops making progress (rounding level).
            if !(next < delta) || next <= 0 { break }
            delta = next
        }
        let d2 = delta * delta
        let a = 2 * s * d2 / (w * (n + d2))
        return (a * a + n, it)
    }
}

/// One cleared market: who imports from whom, what each import costs, net payments and utilities.
public struct MarketOutcome: Codable, Sendable {
    /// imports[i] = the exporters i buys from, in purchase order.
    public var imports: [[Int]]
    /// payments[i][k] = r_{i, imports[i][k]}, paid by importer i.
    public var payments: [[Double]]
    /// p_i = paid - received (sums to zero up to rounding).
    public var netPayments: [Double]
    /// G_i with true sizes.
    public var gains: [Double]
    /// true c_i times the number of importers of i.
    public var exportCosts: [Double]
    /// U_i = G_i - exportCost_i - p_i.
    public var utilities: [Double]
    /// Number of importers of each client.
    public var buyers: [Int]
    /// Newton iterations used by all threshold solves (for diagnostics).
    public var thresholdIterations: Int
    /// Per client, whether it bought (`imports` non-empty) but its purchases were not settled
    /// (`ModelMarket.settle`'s `settled`): no payment, no gain, no export cost. nil: all settled.
    public var unsettled: [Bool]? = nil

    /// |sum_i p_i|.
    public var budgetResidual: Double { abs(netPayments.reduce(0, +)) }
    /// Edges (importer, exporter).
    public var edges: [(Int, Int)] { imports.enumerated().flatMap { i, js in js.map { (i, $0) } } }
}

/// How the personalization centre's step eta is measured.
public enum CentreStep: String, Codable, Sendable, CaseIterable {
    /// The reference code's step: theta_bar_i = theta_i - eta sum_j a_ij (N_j/N_i) grad d_ij. For the
    /// cosine distance the move is about eta (N_j/N_i) sin(angle) / ||u_i||: it grows as updates
    /// shrink, so the paper's eta = 5 (set for deep networks with large updates) throws a small
    /// model's centre far past its own model.
    case absolute
    /// Scale-free: eta is in units of the client's own update and the weights a_ij N_j/N_i are
    /// normalised by max(1, their sum), so the centre moves by at most eta ||u_i|| (cosine:
    /// eta ||u_i|| times a weighted mean of (uhat_j - cos_ij uhat_i); squared L2: eta times a
    /// weighted mean of (u_j - u_i)), whatever the model size, data scale or number of imports.
    case relative
}

/// The iPFL model-sharing market (Zhang et al. 2025): collaboration-graph learning by per-importer
/// thresholds, marginal-benefit payments, and proximal personalization centres.
///
/// Defaults: the paper's market (lambda = 2) with a scale-free personalization: centre step
/// eta = 1 client update (`CentreStep.relative`), prox strength 0.2, no pull for a client that
/// bought nothing (chosen on synthetic data and UCI digits; see docs/market.md). `ModelMarket.paper` is the reference code's personalization
/// (eta = 5 absolute, strength lambda/eta, every client pulled).
public struct ModelMarket: Codable, Sendable, Equatable {
    /// lambda, the weight of model distance in prices and payments.
    public var lambda: Double = 2
    /// eta, the step of the personalization centre (see `centreStep` for its unit).
    public var eta: Double = 1
    public var distance: MarketDistance = .cosine
    public var tieBreak: MarketTieBreak = .index
    /// The unit of eta (nil, as in configurations written before the option existed: `.absolute`).
    public var centreStep: CentreStep? = .relative
    /// The strength mu of the proximal term (mu/2) ||theta_i - theta_bar_i||^2 in local training
    /// (nil: lambda / eta, the reference code's coupling).
    public var prox: Double? = 0.2
    /// Whether a client that bought no model is still pulled towards its centre (its own uploaded
    /// model, i.e. a proximal-point damping of its training). nil: true, the reference code.
    public var proxWithoutImports: Bool? = false

    public init(
        lambda: Double = 2, eta: Double = 1, distance: MarketDistance = .cosine, tieBreak: MarketTieBreak = .index,
        centreStep: CentreStep = .relative, prox: Double? = 0.2, proxWithoutImports: Bool = false
    ) {
        self.lambda = lambda
        self.eta = eta
        self.distance = distance
        self.tieBreak = tieBreak
        self.centreStep = centreStep
        self.prox = prox
        self.proxWithoutImports = proxWithoutImports
    }

    /// The reference code's personalization (the paper's CIFAR-10 values): lambda = 2, eta = 5 in
    /// absolute units, prox strength lambda / eta = 0.4 for every client. `--preset paper`.
    public static let paper = ModelMarket(lambda: 2, eta: 5, centreStep: .absolute, prox: nil, proxWithoutImports: true)

    /// The strength mu of the proximal term (mu/2) ||theta_i - theta_bar_i||^2 that pulls each
    /// client's local training towards its personalization centre (Algorithm 1, step 1).
    public var proxStrength: Double { prox ?? lambda / eta }

    /// The distance charge lambda (N_j / N_i) d_ij of importer i for exporter j's model: added to
    /// the exporter's cost in the price w_ij = c_j + charge, subtracted from the marginal gain in the
    /// payment r_ij = marginal - charge. Reported sizes.
    @inline(__always)
    public func distanceCharge(importer i: ClientEconomics, exporter j: ClientEconomics, distance d: Double) -> Double {
        lambda * (j.dataSize / i.dataSize) * d
    }

    public func validate() throws {
        guard lambda.isFinite, lambda > 0 else { throw AgoraError.configuration("lambda must be a positive finite number, got \(lambda)") }
        guard eta.isFinite, eta > 0 else { throw AgoraError.configuration("eta must be a positive finite number, got \(eta)") }
        if let prox {
            guard prox.isFinite, prox >= 0 else {
                throw AgoraError.configuration("the prox strength must be a non-negative finite number, got \(prox)")
            }
        }
    }

    static func check(_ reports: [ClientEconomics], _ truth: [ClientEconomics], _ d: Matrix<Double>, _ active: [Bool]?) throws {
        let m = reports.count
        guard truth.count == m else { throw AgoraError.configuration("\(m) reports but \(truth.count) true client descriptions") }
        guard d.rows == m, d.cols == m else { throw AgoraError.configuration("distances are \(d.rows) x \(d.cols) for \(m) clients") }
        if let active, active.count != m { throw AgoraError.configuration("\(active.count) activity flags for \(m) clients") }
        for i in 0..<m {
            try reports[i].validate(client: i)
            try truth[i].validate(client: i, what: "true values")
        }
        for v in d.storage where !(v.isFinite && v >= 0) {
            throw AgoraError.configuration("distances must be finite and non-negative, found \(v)")
        }
    }

    /// Graph learning (Algorithm 2): for each importer i with K_i > 0, the candidates j sorted by
    /// threshold NTh_ij (price w_ij = c_j + lambda (N_j/N_i) d_ij) descending, bought while
    /// n + N_j < NTh_ij, stopping at the first failure. Uses reported values only.
    ///
    /// `eligible` (nil: everyone) restricts whom each importer may buy from: `eligible[i][j]` false
    /// takes j out of i's candidates altogether (neither bought nor blocking), e.g. a model that
    /// failed i's own check of what it would buy.
    public func graph(
        reports r: [ClientEconomics], distances d: Matrix<Double>, active: [Bool]? = nil,
        seed: UInt64 = 0, eligible: [[Bool]]? = nil
    ) -> (imports: [[Int]], iterations: Int) {
        let m = r.count
        let isActive = active ?? [Bool](repeating: true, count: m)
        let perImporter: [([Int], Int)] = ThreadPool.shared.parallelMap(m, bytes: m * m * 64) { i in
            guard isActive[i], r[i].eagerness > 0 else { return ([], 0) }
            // Every candidate's threshold is needed (the first failure in the full descending order
            // stops the purchases), but only "viable" candidates, those worth buying even as the
            // first import (th > N_i + N_j), can be bought: only they are sorted, and the walk also
            // stops where the best non-viable candidate (the blocker) would come in the full order.
            //
            // Most candidates are not viable, and that is decided without solving for the threshold:
            // th_ij > N_i + N_j exactly when the marginal gain of N_j at N_i exceeds the price (the
            // gain is decreasing in the size already held). Candidates clearly below (by a relative
            // margin of 1e-9, far above the solver's rounding) are set aside unsolved: their
            // thresholds are below N_i + N_j, so they can block only a purchase whose threshold is at
            // most N_i + N_j, and only those few are solved after the walk. Same imports as solving
            // every threshold (tested against that naive reference), at a fraction of the Newton steps.
            let ki = r[i].eagerness, ni = r[i].dataSize
            var viable: [(j: Int, th: Double, key: UInt64)] = []
            var unsolved: [(j: Int, w: Double, key: UInt64)] = []
            var blocker: (th: Double, key: UInt64)? = nil
            var its = 0
            var rng = SeededGenerator(seed: seed, stream: 0xAA00 + UInt64(i))
            func consider(_ j: Int, _ th: Double, _ key: UInt64) {
                if ni + r[j].dataSize < th {
                    viable.append((j, th, key))
                } else if blocker == nil || th > blocker!.th || (th == blocker!.th && key < blocker!.key) {
                    blocker = (th, key)
                }
            }
            for j in 0..<m where j != i && isActive[j] {
                let key = tieBreak == .random ? rng.next() : UInt64(j)
                guard eligible?[i][j] ?? true else { continue }
                let w = r[j].cost + distanceCharge(importer: r[i], exporter: r[j], distance: d[i, j])
                if w > 0, MarketGain.marginal(eagerness: ki, before: ni, added: r[j].dataSize) < w * (1 - 1e-9) {
                    unsolved.append((j, w, key))
                    continue
                }
                let t = MarketGain.threshold(eagerness: ki, size: r[j].dataSize, price: w)
                its += t.iterations
                consider(j, t.x, key)
            }
            viable.sort { $0.th != $1.th ? $0.th > $1.th : $0.key < $1.key }
            func walk() -> [Int] {
                var n = ni
                var bought: [Int] = []
                for c in viable {
                    if let b = blocker, b.th > c.th || (b.th == c.th && b.key < c.key) { break }
                    guard n + r[c.j].dataSize < c.th else { break }
                    bought.append(c.j)
                    n += r[c.j].dataSize
                }
                return bought
            }
            var bought = walk()
            // An unsolved candidate can come before the last purchase only if N_i + N_j reaches
            // that purchase's threshold; solve those, then walk again with the updated blocker.
            if let last = bought.last, let lastTh = viable.first(where: { $0.j == last })?.th {
                var solvedMore = false
                for u in unsolved where ni + r[u.j].dataSize >= lastTh {
                    let t = MarketGain.threshold(eagerness: ki, size: r[u.j].dataSize, price: u.w)
                    its += t.iterations
                    consider(u.j, t.x, u.key)
                    solvedMore = true
                }
                if solvedMore {
                    viable.sort { $0.th != $1.th ? $0.th > $1.th : $0.key < $1.key }
                    bought = walk()
                }
            }
            return (bought, its)
        }
        return (perImporter.map(\.0), perImporter.reduce(0) { $0 + $1.1 })
    }

    /// Algorithm 2 read literally, the readable reference of `graph`: for each importer, every
    /// candidate's threshold solved, the candidates sorted by threshold descending (ties by
    /// `tieBreak`), bought while n + N_j < NTh_ij, stopping at the first failure. `graph` returns
    /// the same imports without solving most thresholds (tested equal); this one is for reading
    /// and for tests.
    public func referenceGraph(
        reports r: [ClientEconomics], distances d: Matrix<Double>, active: [Bool]? = nil, seed: UInt64 = 0,
        eligible: [[Bool]]? = nil
    ) -> [[Int]] {
        let m = r.count
        let isActive = active ?? [Bool](repeating: true, count: m)
        return (0..<m).map { i in
            guard isActive[i], r[i].eagerness > 0 else { return [] }
            var rng = SeededGenerator(seed: seed, stream: 0xAA00 + UInt64(i))
            var candidates: [(j: Int, threshold: Double, key: UInt64)] = []
            for j in 0..<m where j != i && isActive[j] {
                let key = tieBreak == .random ? rng.next() : UInt64(j)
                guard eligible?[i][j] ?? true else { continue }
                let price = r[j].cost + distanceCharge(importer: r[i], exporter: r[j], distance: d[i, j])
                let threshold = MarketGain.threshold(eagerness: r[i].eagerness, size: r[j].dataSize, price: price).x
                candidates.append((j, threshold, key))
            }
            candidates.sort { $0.threshold != $1.threshold ? $0.threshold > $1.threshold : $0.key < $1.key }
            var n = r[i].dataSize
            var bought: [Int] = []
            for c in candidates {
                guard n + r[c.j].dataSize < c.threshold else { break }
                bought.append(c.j)
                n += r[c.j].dataSize
            }
            return bought
        }
    }

    /// Payments r_ij = G_i(a_i) - G_i(a_i - e_j) - lambda (N_j/N_i) d_ij on reported values, net
    /// payments, and utilities U_i = G_i - c_i (importers of i) - p_i on true values.
    ///
    /// `settled` (nil: every buyer) says whose purchases are realised: a buyer whose training will
    /// not use what it bought (a prox strength of 0, or no round left to train in) neither pays for
    /// its imports nor counts their gain, and its exporters bear no cost for it. Its imports stay in
    /// the outcome (`imports`, the learned graph) with an empty payment list. A buyer's purchases are
    /// settled all or none, so each settled payment is the one the full market sets and the budget
    /// still balances exactly.
    public func settle(
        imports: [[Int]], reports r: [ClientEconomics], truth: [ClientEconomics],
        distances d: Matrix<Double>, settled: [Bool]? = nil
    ) -> MarketOutcome {
        let m = r.count
        var pay = [[Double]](repeating: [], count: m)
        var net = [Double](repeating: 0, count: m)
        var buyers = [Int](repeating: 0, count: m)
        var gains = [Double](repeating: 0, count: m)
        for i in 0..<m where settled?[i] ?? true {
            let total = imports[i].reduce(r[i].dataSize) { $0 + r[$1].dataSize }
            for j in imports[i] {
                let marginal = MarketGain.marginal(eagerness: r[i].eagerness, before: total - r[j].dataSize, added: r[j].dataSize)
                let rij = marginal - distanceCharge(importer: r[i], exporter: r[j], distance: d[i, j])
                pay[i].append(rij)
                net[i] += rij
                net[j] -= rij
                buyers[j] += 1
            }
            let trueTotal = imports[i].reduce(truth[i].dataSize) { $0 + truth[$1].dataSize }
            gains[i] = MarketGain.gain(eagerness: truth[i].eagerness, own: truth[i].dataSize, total: trueTotal)
        }
        let costs = (0..<m).map { truth[$0].cost * Double(buyers[$0]) }
        let util = (0..<m).map { gains[$0] - costs[$0] - net[$0] }
        let unsettled = settled.map { s in (0..<m).map { !s[$0] && !imports[$0].isEmpty } }
        return MarketOutcome(
            imports: imports, payments: pay, netPayments: net, gains: gains, exportCosts: costs,
            utilities: util, buyers: buyers, thresholdIterations: 0, unsettled: unsettled)
    }

    /// Graph learning and settlement in one call (validated); `eligible` as in `graph`, `settled` as
    /// in `settle`.
    public func clear(
        reports: [ClientEconomics], truth: [ClientEconomics]? = nil, distances: Matrix<Double>,
        active: [Bool]? = nil, seed: UInt64 = 0, settled: [Bool]? = nil, eligible: [[Bool]]? = nil
    ) throws -> MarketOutcome {
        let truth = truth ?? reports
        try validate()
        try Self.check(reports, truth, distances, active)
        if let settled, settled.count != reports.count {
            throw AgoraError.configuration("\(settled.count) settlement flags for \(reports.count) clients", field: "settled")
        }
        if let eligible, eligible.count != reports.count || eligible.contains(where: { $0.count != reports.count }) {
            throw AgoraError.configuration("eligibility must be \(reports.count) x \(reports.count) flags", field: "eligible")
        }
        let g = graph(reports: reports, distances: distances, active: active, seed: seed, eligible: eligible)
        var o = settle(imports: g.imports, reports: reports, truth: truth, distances: distances, settled: settled)
        o.thresholdIterations = g.iterations
        return o
    }

    /// Buffers of a market step (update geometry and prox centres), reused across rounds.
    public struct Workspace<T: AgoraScalar>: Sendable {
        public var geometry = Kernels.UpdateGeometry<T>()
        /// The prox centres of the last step.
        public var centres = Matrix<T>(rows: 0, cols: 0)
        public init() {}
    }

    /// One server step of Algorithm 1 (steps 4-7): update geometry of the uploaded models (one Gram
    /// matrix), distances, graph learning, payments and utilities (for the `settled` buyers, as in
    /// `settle`), and the prox centres (left in `workspace.centres`; the workspace's buffers are
    /// reused when shapes match).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func step<T: AgoraScalar>(
        uploaded theta: Matrix<T>, origin: [T], reports: [ClientEconomics],
        truth: [ClientEconomics]? = nil, active: [Bool]? = nil, seed: UInt64 = 0, settled: [Bool]? = nil,
        eligible: [[Bool]]? = nil, workspace ws: inout Workspace<T>
    ) throws -> (outcome: MarketOutcome, distances: Matrix<Double>) {
        guard theta.rows == reports.count else {
            throw AgoraError.configuration("\(theta.rows) uploaded models for \(reports.count) clients")
        }
        try Kernels.updateGeometry(theta, origin: origin, into: &ws.geometry)
        let d = distances(ws.geometry)
        let outcome = try clear(
            reports: reports, truth: truth, distances: d, active: active, seed: seed, settled: settled, eligible: eligible)
        try proxCenters(parameters: theta, geometry: ws.geometry, imports: outcome.imports, reports: reports, into: &ws.centres)
        return (outcome, d)
    }

    /// The pairwise distances D from update geometry (Double, for the economics).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func distances<T: AgoraScalar>(_ geo: Kernels.UpdateGeometry<T>) -> Matrix<Double> {
        let m = geo.norms.count
        var d = Matrix<Double>(rows: m, cols: m)
        for i in 0..<m {
            for j in 0..<m where j != i {
                let c = Double(geo.cosines[i, j])
                switch distance {
                case .cosine: d[i, j] = 1 - c
                case .squaredL2:
                    let ni = Double(geo.norms[i]), nj = Double(geo.norms[j])
                    d[i, j] = max(0, ni * ni + nj * nj - 2 * c * ni * nj)
                }
            }
        }
        return d
    }

    /// Personalization centres theta_bar_i = theta_i - eta sum_j a_ij (N_j/N_i) grad_{theta_i} d(theta_i, theta_j)
    /// for every client, as one sparse mix over the updates U plus theta (one fused pass).
    ///
    /// Cosine: grad_{theta_i} d = -(uhat_j - cos_ij uhat_i)/||u_i||, so row i of the mix has
    /// eta w_ij / (||u_i|| ||u_j||) at j and -eta (sum_j w_ij cos_ij)/||u_i||^2 on the diagonal
    /// (w_ij = a_ij N_j / N_i). A client with a zero update has no gradient: its centre is its model.
    /// Squared L2: grad = 2 (u_i - u_j), so 2 eta w_ij at j and -2 eta sum_j w_ij on the diagonal.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func proxCenters<T: AgoraScalar>(
        parameters theta: Matrix<T>, geometry geo: Kernels.UpdateGeometry<T>,
        imports: [[Int]], reports r: [ClientEconomics]
    ) throws -> Matrix<T> {
        var out = Matrix<T>(rows: 0, cols: 0)
        try proxCenters(parameters: theta, geometry: geo, imports: imports, reports: r, into: &out)
        return out
    }

    /// The prox centres written into `out` (reallocated only when its shape differs).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func proxCenters<T: AgoraScalar>(
        parameters theta: Matrix<T>, geometry geo: Kernels.UpdateGeometry<T>,
        imports: [[Int]], reports r: [ClientEconomics], into out: inout Matrix<T>
    ) throws {
        let m = theta.rows
        guard imports.count == m, r.count == m, geo.updates.rows == m, geo.updates.cols == theta.cols else {
            throw AgoraError.configuration(
                "proxCenters: \(m) models, \(imports.count) import lists, \(r.count) reports, updates \(geo.updates.rows) x \(geo.updates.cols)"
            )
        }
        var entries = [[(Int, T)]](repeating: [], count: m)
        let relative = (centreStep ?? .absolute) == .relative
        for i in 0..<m where !imports[i].isEmpty {
            let ni = Double(geo.norms[i])
            // The step of row i: eta (absolute), or eta ||u_i||^2 / W_i for cosine and eta / (2 W_i)
            // for squared L2 (relative), W_i = max(1, sum_j a_ij N_j / N_i).
            let weightSum = max(1, imports[i].reduce(0.0) { $0 + r[$1].dataSize / r[i].dataSize })
            let step: Double
            switch (relative, distance) {
            case (false, _): step = eta
            case (true, .cosine): step = eta * ni * ni / weightSum
            case (true, .squaredL2): step = eta / (2 * weightSum)
            }
            var diag = 0.0
            var row: [(Int, T)] = []
            for j in imports[i] {
                let w = r[j].dataSize / r[i].dataSize
                switch distance {
                case .cosine:
                    guard ni > 0 else { continue }
                    let nj = Double(geo.norms[j])
                    if nj > 0 { row.append((j, T(step * w / (ni * nj)))) }
                    diag -= step * w * Double(geo.cosines[i, j]) / (ni * ni)
                case .squaredL2:
                    row.append((j, T(2 * step * w)))
                    diag -= 2 * step * w
                }
            }
            row.append((i, T(diag)))
            row.sort { $0.0 < $1.0 }
            entries[i] = row
        }
        let op = try MixingOperator(try CSRMatrix(rows: m, cols: m, entries: entries))
        if out.rows != m || out.cols != theta.cols { out = Matrix(uninitializedRows: m, cols: theta.cols) }  // the mix writes every element
        // y_i = sum_j W_ij u_j - (-1) theta_i.
        try Kernels.mixStep(op, geo.updates, stepSizes: [T](repeating: -1, count: m), directions: theta, into: &out)
    }

    /// The prox centres read literally, the readable reference of `proxCenters`: for each client i
    /// with imports, u_k = theta_k - theta0, and
    /// theta_bar_i = theta_i - eta_i sum_j a_ij (N_j/N_i) grad_{theta_i} d(theta_i, theta_j), with
    /// grad = -(uhat_j - cos_ij uhat_i) / ||u_i|| (cosine) or 2 (u_i - u_j) (squared L2), and eta_i = eta
    /// (absolute) or eta ||u_i||^2 / W_i (cosine) and eta / (2 W_i) (squared L2) with
    /// W_i = max(1, sum_j a_ij N_j/N_i) (relative). A client without imports, or with a zero update
    /// under the cosine distance, keeps its model. Row by row in Double, for reading and tests;
    /// `proxCenters` computes the same as one fused sparse mix (tested equal).
    public func referenceProxCenters(
        parameters theta: [[Double]], origin: [Double], imports: [[Int]], reports r: [ClientEconomics]
    ) -> [[Double]] {
        func norm(_ v: [Double]) -> Double { v.reduce(0) { $0 + $1 * $1 }.squareRoot() }
        let u = theta.map { zip($0, origin).map { $0 - $1 } }
        return theta.indices.map { i in
            let ni = norm(u[i])
            guard !imports[i].isEmpty, distance == .squaredL2 || ni > 0 else { return theta[i] }
            let weightSum = max(1, imports[i].reduce(0.0) { $0 + r[$1].dataSize / r[i].dataSize })
            let step: Double
            switch ((centreStep ?? .absolute) == .relative, distance) {
            case (false, _): step = eta
            case (true, .cosine): step = eta * ni * ni / weightSum
            case (true, .squaredL2): step = eta / (2 * weightSum)
            }
            var gradient = [Double](repeating: 0, count: theta[i].count)
            for j in imports[i] {
                let w = r[j].dataSize / r[i].dataSize
                for k in gradient.indices {
                    switch distance {
                    case .cosine:
                        let nj = norm(u[j])
                        guard nj > 0 else { continue }
                        let cosine = zip(u[i], u[j]).reduce(0) { $0 + $1.0 * $1.1 } / (ni * nj)
                        gradient[k] += w * -(u[j][k] / nj - cosine * u[i][k] / ni) / ni
                    case .squaredL2:
                        gradient[k] += w * 2 * (u[i][k] - u[j][k])
                    }
                }
            }
            return zip(theta[i], gradient).map { $0 - step * $1 }
        }
    }
}
