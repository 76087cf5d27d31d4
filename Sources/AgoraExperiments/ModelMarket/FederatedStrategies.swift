import AgoraKernels
import AgoraLearning
import AgoraMechanisms
import AgoraTopology

/// The state of one method's run of a market experiment that every strategy reads and advances:
/// the clients' current models, who is still in the market, and the seeded random streams
/// (mini-batches per client, attacks per client). Every method draws from the same streams in the
/// same order, so methods are compared on identical data, splits and batches.
struct FederatedRun {
    let experiment: MarketExperiment
    let fed: FederatedClients
    let truth: [ClientEconomics]
    let reports: [ClientEconomics]
    let attack: [Int: MarketAttack]
    /// theta0: small random weights (an MLP needs them; zero for linear models works as well).
    let origin: [Float]
    let optimizer: MomentumSGD
    /// Whether each client trains at all (free-riding attackers do not).
    let trains: [Bool]
    let sizes: [Double]
    var theta: Matrix<Float>
    var active: [Bool]
    var rngs: [SeededGenerator]
    var attackRNG: [SeededGenerator]
    /// Which clients this process trains (all of them in process; a block per MPI rank). Every
    /// process holds every client's model; after local training the trained rows are shared, and
    /// the server's step runs on the full matrix, identically everywhere.
    let placement: any RowPlacement

    init(experiment e: MarketExperiment, fed: FederatedClients, truth: [ClientEconomics], reports: [ClientEconomics],
         attack: [Int: MarketAttack], placement: (any RowPlacement)? = nil) {
        self.placement = placement ?? SingleProcessPlacement(rows: e.clients)
        let m = e.clients, p = fed.parameterCount
        var initRNG = SeededGenerator(seed: e.seed, stream: 0x1417)
        experiment = e; self.fed = fed; self.truth = truth; self.reports = reports; self.attack = attack
        origin = (0..<p).map { _ in Float(initRNG.normal() * 0.01) }
        theta = Matrix<Float>(uninitializedRows: m, cols: p)
        try! Kernels.broadcast(origin, into: &theta)  // origin has p elements by construction
        active = [Bool](repeating: true, count: m)
        rngs = (0..<m).map { SeededGenerator(seed: e.seed, stream: 0xB000 + UInt64($0)) }
        attackRNG = (0..<m).map { SeededGenerator(seed: e.seed, stream: 0xA77 + UInt64($0)) }
        optimizer = MomentumSGD(learningRate: e.learningRate, momentum: e.momentum)
        trains = (0..<m).map { attack[$0]?.trains ?? true }
        sizes = truth.map(\.dataSize)
    }

    var clients: Int { theta.rows }

    /// `localSteps` of momentum SGD on every training client of `x`, optionally pulled towards
    /// `centres` with per-client `strengths`.
    /// Then every process receives the rows the others trained.
    mutating func train(_ x: inout Matrix<Float>, centres: Matrix<Float>? = nil, strengths: [Float]? = nil) throws {
        try fed.train(&x, steps: experiment.localSteps, batch: experiment.batch, optimizer: optimizer, centres: centres,
                      strengths: strengths, training: trains, rngs: &rngs,
                      only: placement.localRows == 0..<clients ? nil : placement.localRows)
        try placement.shareRows(&x)
    }

    /// `train` on the clients' current models `theta`.
    mutating func trainModels(centres: Matrix<Float>? = nil, strengths: [Float]? = nil) throws {
        var x = Matrix<Float>(rows: 0, cols: 0)
        swap(&x, &theta)  // train works in place on the one copy (exclusive access to self)
        defer { swap(&x, &theta) }
        try train(&x, centres: centres, strengths: strengths)
    }

    /// What each client uploads: its model, or the attack's manipulation of it.
    mutating func upload(_ x: Matrix<Float>) throws -> Matrix<Float> {
        var u = x
        let reference = experiment.attackConvention == .reference
        for (i, a) in attack.sorted(by: { $0.key < $1.key }) {
            switch a {
            case .shuffle:
                var perm = Array(0..<x.cols)
                perm.shuffle(using: &attackRNG[i])
                try Kernels.permuteRowUpdate(x, row: i, origin: origin, permutation: perm, into: &u)
            case .signFlip where reference: try Kernels.scaleRow(&u, row: i, by: -1)
            case .signFlip: try Kernels.reflectRow(x, row: i, about: origin, into: &u)
            case .freeRideConstant where reference: try Kernels.fillRow(&u, row: i, with: 1)
            case .freeRideConstant: try Kernels.setRowToShifted(&u, row: i, origin: origin, by: 0.01)
            case .freeRideGaussian: try Kernels.setRowToGaussian(&u, row: i, around: origin, sigma: 0.01, rng: &attackRNG[i])
            }
        }
        return u
    }

    /// The data-size-weighted average of the active rows (FedAvg's aggregation); zeros when no
    /// client is active.
    func weightedMean(_ x: Matrix<Float>) throws -> [Float] {
        let total = zip(sizes, active).reduce(0.0) { $0 + ($1.1 ? $1.0 : 0) }
        let w = (0..<x.rows).map { active[$0] && total > 0 ? Float(sizes[$0] / total) : 0 }
        return try Kernels.weightedRowSum(x, weights: w)
    }

    /// A matrix whose every row is `v` (a global model as every client's prox centre).
    func tiled(_ v: [Float]) throws -> Matrix<Float> {
        var c = Matrix<Float>(uninitializedRows: clients, cols: v.count)
        try Kernels.broadcast(v, into: &c)
        return c
    }

    /// Every active client imports every other active client (what a global model uses).
    func everyone() -> [[Int]] {
        (0..<clients).map { i in active[i] ? (0..<clients).filter { $0 != i && active[$0] } : [] }
    }
}

/// What one round of one method produced.
struct FederatedRoundResult {
    /// The model each client is evaluated with (personalized, or the global one).
    var evaluated: Matrix<Float>
    /// Importer -> exporters (the market's graph, or whom a baseline's model uses).
    var imports: [[Int]]
    /// The market's outcome and distances (iPFL only; baselines pay nothing).
    var market: (outcome: MarketOutcome, distances: Matrix<Double>)?
}

/// One federated method as a small strategy: what a round does to the clients' models.
protocol FederatedStrategy {
    mutating func round(_ t: Int, run: inout FederatedRun) throws -> FederatedRoundResult
}

/// Local training only; no communication.
struct LocalStrategy: FederatedStrategy {
    mutating func round(_ t: Int, run: inout FederatedRun) throws -> FederatedRoundResult {
        try run.trainModels()
        return FederatedRoundResult(evaluated: run.theta, imports: [[Int]](repeating: [], count: run.clients), market: nil)
    }
}

/// The model-sharing market (Algorithm 1): prox-personalized local training, then the server's
/// graph learning, payments and personalization centres.
struct IPFLStrategy: FederatedStrategy {
    let market: ModelMarket
    var centres: Matrix<Float>? = nil
    /// Who each client bought from in the last market (its centre's imports).
    var lastImports: [[Int]] = []
    var workspace = ModelMarket.Workspace<Float>()
    var tieSeed: SeededGenerator

    /// Each client's prox strength when it has imports (or always, with `proxWithoutImports`).
    let strengths: [Double]

    init(market: ModelMarket, seed: UInt64, strengths: [Double]) {
        self.market = market
        self.strengths = strengths
        tieSeed = SeededGenerator(seed: seed, stream: 0x71E)
    }

    mutating func round(_ t: Int, run: inout FederatedRun) throws -> FederatedRoundResult {
        // 1. Local training towards the prox centres (from round 1 on). Clients who left train alone.
        let pulled = (0..<run.clients).map { run.active[$0] && t > 0 && (!lastImports[$0].isEmpty || (market.proxWithoutImports ?? true)) }
        let strengths = (0..<run.clients).map { Float(pulled[$0] ? self.strengths[$0] : 0) }
        try run.trainModels(centres: centres, strengths: centres == nil ? nil : strengths)
        // 3. Attack hook on uploads; 4-7. the server.
        let uploaded = try run.upload(run.theta)
        let (outcome, d) = try market.step(uploaded: uploaded, origin: run.origin, reports: run.reports, truth: run.truth,
                                           active: run.active, seed: tieSeed.next(), workspace: &workspace)
        centres = workspace.centres
        lastImports = outcome.imports
        return FederatedRoundResult(evaluated: run.theta, imports: outcome.imports, market: (outcome, d))
    }
}

/// FedAvg: one global model, averaged by data size every round; with `proximal` = mu, FedProx
/// (local training minimises L_i + (mu/2) ||theta - w||^2).
struct FedAvgStrategy: FederatedStrategy {
    var global: [Float]
    let proximal: Double?

    mutating func round(_ t: Int, run: inout FederatedRun) throws -> FederatedRoundResult {
        var start = run.theta
        try Kernels.broadcast(global, into: &start, rows: run.active)
        if let mu = proximal {
            let strengths = (0..<run.clients).map { Float(run.active[$0] ? mu : 0) }
            try run.train(&start, centres: try run.tiled(global), strengths: strengths)
        } else {
            try run.train(&start)
        }
        run.theta = start
        global = try run.weightedMean(try run.upload(run.theta))
        var evaluated = run.theta
        try Kernels.broadcast(global, into: &evaluated, rows: run.active)
        return FederatedRoundResult(evaluated: evaluated, imports: run.everyone(), market: nil)
    }
}

/// Ditto: a global FedAvg model plus personal models pulled towards it by (lambda/2) ||v - w||^2.
struct DittoStrategy: FederatedStrategy {
    var global: [Float]
    let lambda: Double
    var personal: Matrix<Float>? = nil

    init(global: [Float], lambda: Double) { self.global = global; self.lambda = lambda }

    mutating func round(_ t: Int, run: inout FederatedRun) throws -> FederatedRoundResult {
        var personal = self.personal ?? run.theta  // personal models start at theta0
        var start = run.theta
        try Kernels.broadcast(global, into: &start, rows: run.active)
        try run.train(&start)
        let strengths = (0..<run.clients).map { Float(run.active[$0] ? lambda : 0) }
        try run.train(&personal, centres: try run.tiled(global), strengths: strengths)
        run.theta = start
        global = try run.weightedMean(try run.upload(run.theta))
        self.personal = personal
        return FederatedRoundResult(evaluated: personal, imports: run.everyone(), market: nil)
    }
}

/// pFedGraph: personalized aggregation by a similarity graph; each client's aggregation weights are
/// the projection onto the simplex of alpha N_j / N + cos_ij / 2 over the active clients.
struct PFedGraphStrategy: FederatedStrategy {
    let alpha: Double
    var centres: Matrix<Float>? = nil

    init(alpha: Double) { self.alpha = alpha }

    mutating func round(_ t: Int, run: inout FederatedRun) throws -> FederatedRoundResult {
        let m = run.clients
        if let c = centres { try Kernels.copyRows(c, into: &run.theta, rows: run.active) }
        try run.trainModels()
        let uploaded = try run.upload(run.theta)
        let geo = try Kernels.updateGeometry(uploaded, origin: run.origin)
        let total = (0..<m).filter { run.active[$0] }.reduce(0.0) { $0 + run.sizes[$1] }
        // Aggregation weights per client (a row of the simplex); clients who left keep their own model.
        let members = (0..<m).filter { run.active[$0] }
        var rows = [[(Int, Float)]](repeating: [], count: m)
        var imports = [[Int]](repeating: [], count: m)
        for i in 0..<m {
            guard run.active[i] else { rows[i] = [(i, 1)]; continue }
            let a = projectOntoSimplex(members.map { j in alpha * run.sizes[j] / total + Double(geo.cosines[i, j]) / 2 })
            for (q, j) in members.enumerated() where a[q] > 0 {
                rows[i].append((j, Float(a[q])))
                if j != i && a[q] > 1e-9 { imports[i].append(j) }
            }
        }
        var agg = Matrix<Float>(uninitializedRows: m, cols: uploaded.cols)  // the mix writes every element
        try Kernels.mix(try MixingOperator(try CSRMatrix(rows: m, cols: m, entries: rows)), uploaded, into: &agg)
        centres = agg
        return FederatedRoundResult(evaluated: run.theta, imports: imports, market: nil)
    }
}
