import AgoraKernels
import AgoraLearning
import AgoraMechanisms
import AgoraTopology
import Foundation

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

    init(
        experiment e: MarketExperiment, fed: FederatedClients, truth: [ClientEconomics], reports: [ClientEconomics],
        attack: [Int: MarketAttack], placement: (any RowPlacement)? = nil
    ) {
        self.placement = placement ?? SingleProcessPlacement(rows: e.clients)
        let m = e.clients, p = fed.parameterCount
        var initRNG = SeededGenerator(seed: e.seed, stream: 0x1417)
        experiment = e
        self.fed = fed
        self.truth = truth
        self.reports = reports
        self.attack = attack
        origin = fed.model.initialParameters(features: fed.data.features.cols, using: &initRNG)
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
    /// Then every process receives the rows the others trained, and checks them all: a divergence
    /// is seen by every process at once (the same error on every back-end).
    mutating func train(_ x: inout Matrix<Float>, centres: Matrix<Float>? = nil, strengths: [Float]? = nil) throws {
        try fed.train(
            &x, steps: experiment.localSteps, batch: experiment.batch, optimizer: optimizer, centres: centres,
            strengths: strengths, training: trains, rngs: &rngs,
            only: placement.localRows == 0..<clients ? nil : placement.localRows, checkFinite: false)
        try placement.shareRows(&x)
        try FederatedClients.checkFinite(x)
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
                // The update's entries permuted: u_i[k] = o[k] + (x_i[p[k]] - o[p[k]]).
                var perm = Array(0..<x.cols)
                perm.shuffle(using: &attackRNG[i])
                try Kernels.gatherRow(x, row: i, indices: perm, into: &u)
                try Kernels.rebaseRow(&u, row: i, origin: perm.map { origin[$0] }, scale: 1, base: origin)
            case .signFlip where reference: try Kernels.scaleRow(&u, row: i, by: -1)
            // The update reflected about the origin: u_i = o - (x_i - o).
            case .signFlip: try Kernels.rebaseRow(&u, row: i, origin: origin, scale: -1, base: origin)
            case .freeRideConstant where reference: try Kernels.fillRow(&u, row: i, with: 1)
            // The origin shifted by 0.01 in every coordinate.
            case .freeRideConstant:
                try Kernels.broadcast(origin.map { $0 + 0.01 }, into: &u, rows: (0..<x.rows).map { $0 == i })
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
    /// The market's outcome and distances (iPFL only; baselines pay nothing). The outcome settles
    /// the realised purchases only (see `unrealised`); `imports` above is the learned graph.
    var market: (outcome: MarketOutcome, distances: Matrix<Double>)?
    /// iPFL: per client, whether its purchases this round go unused by its training (prox strength
    /// 0, or no round left to train in); such purchases are neither paid for nor counted as gains.
    var unrealised: [Bool]? = nil
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
    /// Each client's training accuracy at theta0 (for the purchase check), computed once.
    var originScores: [Double]? = nil

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
        // 3. Attack hook on uploads; 4-7. the server. Honest accounting: a purchase is realised
        // when the buyer's next round trains towards a centre built from it (a positive strength
        // and a round left); the market settles only those buyers (`ModelMarket.settle`), and the
        // learned graph stays `imports`.
        let realising = (0..<run.clients).map { self.strengths[$0] > 0 && t + 1 < run.experiment.rounds }
        let uploaded = try run.upload(run.theta)
        let eligible = try run.experiment.purchaseCheck.map { try check($0, uploaded: uploaded, run: run) }
        let (outcome, d) = try market.step(
            uploaded: uploaded, origin: run.origin, reports: run.reports, truth: run.truth,
            active: run.active, seed: tieSeed.next(), settled: realising, eligible: eligible, workspace: &workspace)
        centres = workspace.centres
        lastImports = outcome.imports
        let unrealised = outcome.unsettled ?? [Bool](repeating: false, count: run.clients)
        return FederatedRoundResult(evaluated: run.theta, imports: outcome.imports, market: (outcome, d), unrealised: unrealised)
    }

    /// The buyers' `PurchaseCheck`: every uploaded model's accuracy on every client's training
    /// rows, against theta0's (computed once) and the client's own trained model's.
    mutating func check(_ rule: MarketExperiment.PurchaseCheck, uploaded: Matrix<Float>, run: FederatedRun) throws -> [[Bool]] {
        if originScores == nil { originScores = try run.fed.accuracies(try run.tiled(run.origin), on: run.fed.train) }
        let offered = try run.fed.crossAccuracies(uploaded, on: run.fed.train)
        let own = try run.fed.accuracies(run.theta, on: run.fed.train)
        return rule.eligible(origin: originScores!, own: own, offered: offered)
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

    init(global: [Float], lambda: Double) {
        self.global = global
        self.lambda = lambda
    }

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
            guard run.active[i] else {
                rows[i] = [(i, 1)]
                continue
            }
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

/// The row-stochastic aggregation `rows` (client i: (j, weight) pairs) applied to `x` with the
/// sparse mix kernel: what FedAMP, CFL and FedFomo do on the server.
func aggregate(_ rows: [[(Int, Float)]], _ x: Matrix<Float>) throws -> Matrix<Float> {
    var out = Matrix<Float>(uninitializedRows: x.rows, cols: x.cols)  // the mix writes every element
    try Kernels.mix(try MixingOperator(try CSRMatrix(rows: x.rows, cols: x.rows, entries: rows)), x, into: &out)
    return out
}

/// FedAMP (Huang et al. 2021): attentive message passing. The server gives each client a cloud
/// model u_i = xi_ii w_i + sum_j xi_ij w_j with xi_ij proportional to A'(||w_i - w_j||^2) =
/// exp(-||w_i - w_j||^2 / sigma) / sigma, so similar clients weigh more; clients then train with
/// the proximal pull (lambda/2) ||w - u_i||^2 towards their cloud model.
///
/// Reconstruction (the paper's sigma and alpha_k are tuned per data set): sigma is the median of
/// the pairwise squared distances of the round (scale-free), and alpha_k is set so that no client
/// gives more than `share` of its weight to others (xi_ii >= 1 - share, never negative).
struct FedAMPStrategy: FederatedStrategy {
    let lambda: Double
    let share: Double
    var clouds: Matrix<Float>? = nil

    mutating func round(_ t: Int, run: inout FederatedRun) throws -> FederatedRoundResult {
        let m = run.clients
        let strengths = (0..<m).map { Float(run.active[$0] && clouds != nil ? lambda : 0) }
        try run.trainModels(centres: clouds, strengths: clouds == nil ? nil : strengths)
        let uploaded = try run.upload(run.theta)
        let geo = try Kernels.updateGeometry(uploaded, origin: run.origin)
        let (rows, imports) = Self.weights(
            norms: geo.norms.map(Double.init), cosines: { Double(geo.cosines[$0, $1]) }, active: run.active, share: share)
        clouds = try aggregate(rows, uploaded)
        return FederatedRoundResult(evaluated: run.theta, imports: imports, market: nil)
    }

    /// The cloud-model weights xi of one round from the updates' norms and cosines: squared
    /// distances d_ij = |u_i|^2 + |u_j|^2 - 2 cos_ij |u_i| |u_j|, sigma their median over active
    /// pairs, raw_ij = exp(-d_ij / sigma) / sigma, alpha = share / max_i sum_j raw_ij, xi_ij =
    /// alpha raw_ij and xi_ii = 1 - sum_j xi_ij; inactive clients keep their own model. Imports:
    /// peers with xi_ij > 1e-3. Rows sorted by client index.
    static func weights(
        norms: [Double], cosines: (Int, Int) -> Double, active: [Bool], share: Double
    ) -> (
        rows: [[(Int, Float)]], imports: [[Int]]
    ) {
        let m = norms.count
        let members = (0..<m).filter { active[$0] }
        func squared(_ i: Int, _ j: Int) -> Double {
            max(0, norms[i] * norms[i] + norms[j] * norms[j] - 2 * cosines(i, j) * norms[i] * norms[j])
        }
        var all: [Double] = []
        for (a, i) in members.enumerated() { for j in members[(a + 1)...] { all.append(squared(i, j)) } }
        all.sort()
        let sigma = all.isEmpty ? 1 : max(all[all.count / 2], 1e-12)
        var raw = [[Double]](repeating: [], count: m)
        var largest = 0.0
        for i in members {
            raw[i] = members.map { j in j == i ? 0 : exp(-squared(i, j) / sigma) / sigma }
            largest = max(largest, raw[i].reduce(0, +))
        }
        let alpha = largest > 0 ? share / largest : 0
        var rows = [[(Int, Float)]](repeating: [], count: m)
        var imports = [[Int]](repeating: [], count: m)
        for i in 0..<m {
            guard active[i] else {
                rows[i] = [(i, 1)]
                continue
            }
            var own = 1.0
            for (q, j) in members.enumerated() where j != i {
                let w = alpha * raw[i][q]
                own -= w
                rows[i].append((j, Float(w)))
                if w > 1e-3 { imports[i].append(j) }
            }
            rows[i].append((i, Float(own)))
            rows[i].sort { $0.0 < $1.0 }
        }
        return (rows, imports)
    }
}

/// Clustered FL (Sattler et al. 2020): FedAvg inside clusters, and a cluster is split in two when
/// its clients' updates pull apart: the averaged update is small against the largest one (the
/// cluster sits at a stationary point of the joint objective that is not one of its members'). The
/// split is the bipartition of the clients by complete-linkage clustering on the cosine similarity
/// of their updates.
///
/// Reconstruction (the paper's eps_1, eps_2 are absolute and tuned per task): split when
/// ||mean update|| < `ratio` x max ||update|| after `warmup` rounds, for clusters of at least two.
struct CFLStrategy: FederatedStrategy {
    let ratio: Double
    let warmup: Int
    var clusters: [[Int]] = []
    var models: [[Float]] = []

    mutating func round(_ t: Int, run: inout FederatedRun) throws -> FederatedRoundResult {
        let m = run.clients
        if clusters.isEmpty {
            clusters = [Array(0..<m)]
            models = [run.origin]
        }
        var start = run.theta
        for (c, members) in clusters.enumerated() {
            try Kernels.broadcast(models[c], into: &start, rows: (0..<m).map { i in members.contains(i) && run.active[i] })
        }
        try run.train(&start)
        run.theta = start
        let uploaded = try run.upload(run.theta)
        var next: [[Int]] = [], nextModels: [[Float]] = []
        for (c, members) in clusters.enumerated() {
            let active = members.filter { run.active[$0] }
            var groups = [members]
            if t + 1 >= warmup, active.count >= 2 {
                // Updates of this round from the cluster's model: their norms and cosines, and the
                // norm of their size-weighted mean (the distance of the averaged model from it).
                let geo = try Kernels.updateGeometry(uploaded, origin: models[c])
                let total = active.reduce(0.0) { $0 + run.sizes[$1] }
                let w = (0..<m).map { active.contains($0) ? Float(run.sizes[$0] / total) : 0 }
                let mean = try Matrix(rows: 1, cols: uploaded.cols, storage: try Kernels.weightedRowSum(uploaded, weights: w))
                let meanNorm = try Kernels.rowDistances(mean, to: models[c].map(Double.init))[0]
                if let largest = active.map({ Double(geo.norms[$0]) }).max(), largest > 0, meanNorm < ratio * largest {
                    let halves = Self.bipartition(active, cosines: geo.cosines)
                    groups = [halves.0 + members.filter { !run.active[$0] }, halves.1]
                }
            }
            for g in groups {
                let inside = (0..<m).map { g.contains($0) && run.active[$0] }
                let total = (0..<m).reduce(0.0) { $0 + (inside[$1] ? run.sizes[$1] : 0) }
                let w = (0..<m).map { inside[$0] && total > 0 ? Float(run.sizes[$0] / total) : 0 }
                next.append(g)
                nextModels.append(total > 0 ? try Kernels.weightedRowSum(uploaded, weights: w) : models[c])
            }
        }
        clusters = next
        models = nextModels
        var evaluated = run.theta
        var imports = [[Int]](repeating: [], count: m)
        for (c, members) in clusters.enumerated() {
            try Kernels.broadcast(models[c], into: &evaluated, rows: (0..<m).map { members.contains($0) && run.active[$0] })
            for i in members where run.active[i] { imports[i] = members.filter { $0 != i && run.active[$0] } }
        }
        return FederatedRoundResult(evaluated: evaluated, imports: imports, market: nil)
    }

    /// Complete-linkage agglomerative clustering of `clients` into two groups by the cosine
    /// similarity of their updates (merge the pair of groups whose least similar members are most
    /// similar, until two remain).
    static func bipartition(_ clients: [Int], cosines: Matrix<Float>) -> ([Int], [Int]) {
        var groups = clients.map { [$0] }
        while groups.count > 2 {
            var best = (a: 0, b: 1, similarity: -Double.infinity)
            for a in 0..<groups.count {
                for b in (a + 1)..<groups.count {
                    var worst = Double.infinity
                    for i in groups[a] { for j in groups[b] { worst = min(worst, Double(cosines[i, j])) } }
                    if worst > best.similarity { best = (a, b, worst) }
                }
            }
            groups[best.a] += groups[best.b]
            groups.remove(at: best.b)
        }
        return (groups[0].sorted(), groups[1].sorted())
    }
}

/// FedFomo (Zhang et al. 2021): first-order model optimisation. Each client scores every other
/// client's model by how much it lowers the client's own validation loss per unit of distance,
/// w_ij = max(0, L_i(w_i) - L_i(w_j)) / ||w_j - w_i||, normalises the positive scores, and moves
/// to w_i + sum_j w_ij (w_j - w_i); no positive score keeps its own model.
///
/// Validation rows: the run's clients (`run.fed`) are built with a validation part split off each
/// client's training rows (`MarketExperiment.fedfomoValidation`), their `test` rows; they do not
/// train on it, and the real test rows stay unseen.
struct FedFomoStrategy: FederatedStrategy {
    var personal: Matrix<Float>? = nil

    mutating func round(_ t: Int, run: inout FederatedRun) throws -> FederatedRoundResult {
        let m = run.clients
        if let p = personal { try Kernels.copyRows(p, into: &run.theta, rows: run.active) }
        try run.trainModels()
        let uploaded = try run.upload(run.theta)
        let members = (0..<m).filter { run.active[$0] }
        // Each client's own (trained, not uploaded) model on its own validation rows, at once.
        let ownLosses = try run.fed.losses(run.theta, on: run.fed.test)
        // Rows 0..<m of the mix source are the clients' own models, rows m..<2m the uploads: client
        // i moves to w_i + sum_j w_ij (upload_j - w_i).
        let source = try Matrix(rows: 2 * m, cols: uploaded.cols, storage: run.theta.storage + uploaded.storage)
        var rows = [[(Int, Float)]](repeating: [], count: m)
        var imports = [[Int]](repeating: [], count: m)
        for i in 0..<m {
            rows[i] = [(i, 1)]
            guard run.active[i] else { continue }
            let peers = try run.fed.losses(uploaded, on: [[Int]](repeating: run.fed.test[i], count: m))
            let own = (0..<uploaded.cols).map { Double(run.theta[i, $0]) }
            let distances = try Kernels.rowDistances(uploaded, to: own)
            guard
                let (keep, weights) = Self.weights(
                    client: i, ownLoss: ownLosses[i], peerLosses: peers, distances: distances, members: members)
            else { continue }  // no model helps: keep its own
            rows[i] = [(i, Float(keep))] + weights.map { (m + $0.0, Float($0.1)) }
            imports[i] = weights.map(\.0)
        }
        var next = Matrix<Float>(uninitializedRows: m, cols: uploaded.cols)  // the mix writes every element
        let w = try CSRMatrix(rows: m, cols: 2 * m, entries: rows)  // rectangular: the sparse kernel on raw rows
        source.storage.withUnsafeBufferPointer { xb in
            next.storage.withUnsafeMutableBufferPointer { yb in
                Kernels.mixRows(w, x: xb.baseAddress!, cols: uploaded.cols, into: yb.baseAddress!)
            }
        }
        personal = next
        return FederatedRoundResult(evaluated: next, imports: imports, market: nil)
    }

    /// Client i's FedFomo weights: scores s_ij = (L_i(w_i) - L_i(w_j)) / max(||w_j - w_i||, 1e-12)
    /// over the other members, the positive ones normalised to sum to 1 (w_ij = s_ij / sum s), and
    /// the weight left on its own model (0 up to rounding). nil when no score is positive.
    static func weights(
        client i: Int, ownLoss: Double, peerLosses: [Double], distances: [Double], members: [Int]
    ) -> (
        keep: Double, weights: [(Int, Double)]
    )? {
        let scores = members.filter { $0 != i }.map { j in (j, (ownLoss - peerLosses[j]) / max(distances[j], 1e-12)) }.filter { $0.1 > 0 }
        let total = scores.reduce(0) { $0 + $1.1 }
        guard total > 0 else { return nil }
        let keep = 1 - scores.reduce(0) { $0 + $1.1 / total }
        return (keep, scores.map { ($0.0, $0.1 / total) })
    }
}
