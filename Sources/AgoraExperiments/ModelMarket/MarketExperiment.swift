import AgoraKernels
import AgoraLearning
import AgoraMechanisms
import AgoraTopology
import Foundation

/// A federated method run on the market's training loop.
public enum FederatedMethod: String, Codable, Sendable, CaseIterable {
    /// The model-sharing market (Algorithm 1): prox-personalized local training, graph, payments.
    case ipfl
    /// Local training only; no communication.
    case local
    /// One global model, averaged by data size every round.
    case fedavg
    /// FedAvg with a proximal term (mu/2) ||theta - w||^2 in local training.
    case fedprox
    /// A global FedAvg model plus personal models pulled towards it by (lambda/2) ||v - w||^2.
    case ditto
    /// Personalized aggregation by a similarity graph: per client a projection onto the simplex.
    case pfedgraph
    /// Attentive message passing: per-client cloud models weighted by model similarity, prox pull.
    case fedamp
    /// Clustered FL: FedAvg inside clusters, split when the clients' updates pull apart.
    case cfl
    /// First-order model optimisation: each client mixes in the models that lower its validation loss.
    case fedfomo
}

/// How a malicious or lazy client manipulates what it uploads.
public enum MarketAttack: String, Codable, Sendable, CaseIterable {
    /// A seller (K = 0, c = 0) uploading its trained model with the update's entries permuted.
    case shuffle
    /// A seller (K = 0, c = 0) uploading theta0 - u, the update with its sign flipped.
    case signFlip = "sign-flip"
    /// Skips training and uploads theta0 + 0.01 (every entry).
    case freeRideConstant = "free-ride-constant"
    /// Skips training and uploads theta0 + N(0, 0.01^2 I).
    case freeRideGaussian = "free-ride-gaussian"

    /// Whether the client trains at all.
    public var trains: Bool { self == .shuffle || self == .signFlip }
    /// Whether the client is a pure seller (K = 0, c = 0).
    public var seller: Bool { trains }
}

/// Whose conventions the attacks follow.
public enum AttackConvention: String, Codable, Sendable, CaseIterable {
    /// Sign-flip uploads theta0 - u (the update reflected about the common start), the constant
    /// free-rider theta0 + 0.01, and free-riders report their true cost.
    case agora
    /// The reference code's: sign-flip uploads -theta, the constant free-rider uploads all ones,
    /// and free-riders (both kinds) report cost 0.
    case reference
}

/// How clients leave the market (`MarketExperiment.dropout`).
public enum DropoutRule: String, Codable, Sendable, CaseIterable {
    /// The spec's step 8: a client whose round utility is negative leaves at once.
    case negativeUtility = "negative-utility"
    /// A reconstruction of the reference's "IR-probability" dropout (the spec names it but does not
    /// define it): after each round an active client stays with probability equal to the share of its
    /// rounds so far in which individual rationality held (U_i >= 0), drawn from the run's seed. A
    /// client whose every round was individually rational never leaves; one whose every round was
    /// negative leaves after its first round, as under `negativeUtility`.
    case irProbability = "ir-probability"

    /// Whether a client leaves after a round, given how many of its `rounds` active rounds so far had
    /// U_i >= 0 (`rational`) and this round's utility; `draw` is uniform in [0, 1), used by the
    /// probabilistic rule only.
    public func leaves(utility: Double, rational: Int, rounds: Int, draw: () -> Double) -> Bool {
        switch self {
        case .negativeUtility: return utility < -Self.tolerance
        case .irProbability:
            let stay = Double(rational) / Double(max(1, rounds))
            return stay < 1 && draw() >= stay
        }
    }

    /// Utilities this close below zero count as zero (payments are exact only to rounding).
    public static let tolerance = 1e-12
}

/// A complete model-market experiment as data (echoed into every output).
public struct MarketExperiment: Codable, Sendable, Equatable {
    public struct Attacker: Codable, Sendable, Equatable {
        public var client: Int
        public var attack: MarketAttack
        public init(client: Int, attack: MarketAttack) {
            self.client = client
            self.attack = attack
        }
    }
    /// A client that reports other values than its true ones.
    public struct Misreport: Codable, Sendable, Equatable {
        public var client: Int
        public var sizeFactor: Double = 1
        public var costFactor: Double = 1
        public init(client: Int, sizeFactor: Double = 1, costFactor: Double = 1) {
            self.client = client
            self.sizeFactor = sizeFactor
            self.costFactor = costFactor
        }
    }

    /// Synthetic heterogeneous logistic data (used when `dataFile` is nil); `data.agents` is the
    /// number of clients in every case.
    public var data: SyntheticProblem = {
        var s = SyntheticProblem()
        s.agents = 10
        s.rowsPerAgent = 100
        s.features = 20
        s.heterogeneity = 3
        s.clusters = 3
        return s
    }()
    public var dataFile: DataFile? = nil
    /// Hidden units of an MLP (0: logistic or softmax regression).
    public var hidden = 0
    /// A convolutional network instead (the data's rows must be its images); nil: `hidden` decides.
    public var network: NetworkPreset? = nil
    /// L2 weight decay of local training.
    public var l2 = 1e-5
    public var testFraction = 0.2
    /// The fewest rows a client may hold (nil: 10); every client also gets at least one test row.
    /// A partition that leaves a client with fewer is refused with the client and its size.
    public var minClientRows: Int? = nil
    public var rounds = 20
    public var localSteps = 20
    public var batch = 32
    public var learningRate = 0.05
    public var momentum = 0.9
    public var market = ModelMarket()
    /// Eagerness K of every importing client; nil (the default): `automaticEagerness`, the
    /// smallest K at which the median client can afford every other client of its size. (The
    /// paper's 5e5 lets a client of 5000 rows afford two; configurations written before the option
    /// existed carry their value.)
    public var eagerness: Double? = nil
    /// Export cost c of every client (true value).
    public var cost = 1.0
    /// Per-client eagerness K_i and cost c_i (the paper's inclusive market; `readEconomics`,
    /// `uniformDraws`); nil: `eagerness` and `cost` for every client. Attackers override them.
    public var eagernesses: [Double]? = nil
    public var costs: [Double]? = nil
    /// True data sizes N: the clients' training-row counts times this factor. nil: scaled so that
    /// the mean N is 5000, the size of the paper's CIFAR-10 clients, for which its K = 5e5 and c = 1
    /// were chosen (the market only sees ratios K/N and N_j/N_i, so this is the same as scaling K).
    public var sizeScale: Double? = nil
    public var misreports: [Misreport] = []
    public var attackers: [Attacker] = []
    /// nil (also in configurations written before the option existed): `.agora`.
    public var attackConvention: AttackConvention? = nil
    /// Whether every round also evaluates the label-weighted accuracy on the pooled test rows
    /// (`Round.labelWeightedAccuracies`; nil: yes). It costs one prediction per client and pooled
    /// test row per round.
    public var labelWeightedAccuracy: Bool? = nil
    /// Clients leave the market (and train locally from then on) by `dropoutRule`.
    public var dropout = false
    /// Which dropout rule applies when `dropout` is on; nil (also in configurations written before
    /// the option existed): `.negativeUtility`, the spec's.
    public var dropoutRule: DropoutRule? = nil
    public var methods: [FederatedMethod] = [.ipfl]
    /// Each client's prox strength chosen by a pilot on its own validation rows (`ProxPilot`); nil
    /// (also in configurations written before the option existed): the market's strength for all.
    public var proxPilot: ProxPilot? = ProxPilot()
    /// iPFL: each buyer checks the models on offer on its own training rows before the market
    /// learns the graph, and takes out of its candidates those that do not improve on theta0 by a
    /// share of its own improvement (`PurchaseCheck`). nil (also in configurations written before
    /// the option existed): no check, every uploaded model is a candidate.
    public var purchaseCheck: PurchaseCheck? = PurchaseCheck()
    public var fedproxMu = 0.01
    public var dittoLambda = 0.1
    public var pfedgraphAlpha = 0.8
    /// FedAMP: the prox strength towards the cloud model, and the largest share of a client's
    /// weight given to others (nil: 0.1 and 0.5; see `FedAMPStrategy`).
    public var fedampLambda: Double? = nil
    public var fedampShare: Double? = nil
    /// CFL: split a cluster when ||mean update|| < ratio x max ||update||, from this round on (nil:
    /// 0.4 and round 3; see `CFLStrategy`).
    public var cflRatio: Double? = nil
    public var cflWarmup: Int? = nil
    /// FedFomo: the part of each client's training rows that scores the others' models (nil: 0.2).
    public var fedfomoValidation: Double? = nil
    public var seed: UInt64 = 1
    public init() {}

    public var clients: Int { data.agents }

    /// How iPFL chooses the prox strength when the right one depends on the data: before the run,
    /// `rounds` rounds of iPFL per candidate strength on each client's training rows minus a
    /// validation part (`validationFraction`, never the test rows); the market (or, with scope
    /// `.client`, each client) keeps the candidate with the lowest validation loss at the end of
    /// the pilot (ties: the weaker pull; the loss, not the accuracy, because validation parts are
    /// small and accuracy is coarse). Candidate 0 is iPFL's market without the pull (local training
    /// inside the market), so a market whose clients gain nothing from their imports is not pushed
    /// towards them, whatever the model size or data scale.
    public struct ProxPilot: Codable, Sendable, Equatable {
        public var candidates: [Double] = [0, 0.05, 0.2]
        public var rounds = 5
        public var validationFraction = 0.2
        /// Whose validation loss decides: one strength for the market (the default,
        /// chosen by a rule fixed before measuring it on held-out data; docs/market.md)
        /// or one per client. nil, as decoded from configurations written before the option
        /// existed, is `.client`, what they ran.
        public var scope: Scope? = .market
        /// What the pilot compares on the validation rows; nil (configurations written before the
        /// option existed): `.loss`.
        public var criterion: Criterion? = .loss
        public init() {}

        /// What the pilot compares on the validation rows.
        public enum Criterion: String, Codable, Sendable, CaseIterable {
            /// The mean validation loss (lower is better).
            case loss
            /// The validation accuracy (higher is better): a weaker pull leaves larger, more
            /// confident weights, which the loss can prefer while classifying worse.
            case accuracy
        }

        /// Whose validation loss decides.
        public enum Scope: String, Codable, Sendable, CaseIterable {
            /// Each client keeps the candidate with its own lowest validation loss.
            case client
            /// One candidate for the whole market (the default): the lowest validation loss summed
            /// over every client's validation rows. It pools every client's rows, so the choice is
            /// less noisy than a client's own, but one strength serves clients who gain from a pull
            /// and clients who do not; and the clients must report their validation losses, which
            /// nothing in the market makes truthful (an attacker's loss counts like anyone's).
            /// Measured against `.client` in docs/market.md.
            case market
        }

        /// The pilot's choice from its measurements: `losses[k][i]` is client i's mean validation
        /// loss (over `rows[i]` rows) after the pilot with `candidates[k]` (ascending). `.client`:
        /// each client the candidate of its lowest loss; `.market`: every client the candidate of
        /// the lowest loss summed over all validation rows. Ties and NaN losses go to the earlier,
        /// weaker candidate (the first one when every loss is NaN).
        static func select(candidates: [Double], losses: [[Double]], rows: [Int], scope: Scope) -> [Double] {
            func argmin(_ values: [Double]) -> Int {
                var best = 0
                for k in values.indices where values[k] < values[best] || (values[best].isNaN && !values[k].isNaN) { best = k }
                return best
            }
            switch scope {
            case .client:
                return rows.indices.map { i in candidates[argmin(losses.map { $0[i] })] }
            case .market:
                let pooled = losses.map { l in rows.indices.reduce(0.0) { $0 + l[$1] * Double(rows[$1]) } }
                return [Double](repeating: candidates[argmin(pooled)], count: rows.count)
            }
        }

        func validate() throws {
            guard !candidates.isEmpty, candidates.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
                throw AgoraError.configuration(
                    "candidate prox strengths must be a non-empty list of non-negative numbers, got \(candidates)",
                    field: "proxPilot.candidates")
            }
            guard rounds >= 1, rounds <= 10_000 else {
                throw AgoraError.configuration("must be in 1...10000, got \(rounds)", field: "proxPilot.rounds")
            }
            guard validationFraction > 0, validationFraction < 1 else {
                throw AgoraError.configuration("must be in (0, 1), got \(validationFraction)", field: "proxPilot.validationFraction")
            }
        }
    }

    /// A buyer's check of the models on offer, on its own training rows (no test or validation row
    /// is used): with A_i the accuracy on the buyer's training rows, the buyer's own improvement
    /// g_i = A_i(theta_i) - A_i(theta0) and seller j's g_ij = A_i(theta_j) - A_i(theta0), j stays a
    /// candidate of i only if g_ij > share x max(g_i, 0). The check is a defence, not a price: a
    /// seller whose model does not do on the buyer's data part of what the buyer's own training did
    /// (a shuffled or sign-flipped update, a free-rider's near-theta0 upload, or an honest model of
    /// another task) is not bought, whatever its distance. Accuracy rather than loss: an early,
    /// overconfident model of the same task can have a loss above theta0's and still classify well.
    /// Scale-free (one buyer's rows, one measure). Costs one prediction per (buyer, seller) pair and
    /// buyer training row per round.
    public struct PurchaseCheck: Codable, Sendable, Equatable {
        /// The share of its own improvement over theta0 that a seller's model must reach on the
        /// buyer's rows (0: any improvement over theta0).
        public var share = 0.5
        public init(share: Double = 0.5) { self.share = share }

        /// eligible[i][j] from the buyers' scores (higher is better): `origin[i]` = A_i(theta0),
        /// `own[i]` = A_i(theta_i), `offered[i][j]` = A_i(theta_j). A NaN score fails the check;
        /// i itself is not a candidate.
        public func eligible(origin: [Double], own: [Double], offered: [[Double]]) -> [[Bool]] {
            origin.indices.map { i in
                let bar = share * max(own[i] - origin[i], 0)
                return offered[i].indices.map { j in j != i && offered[i][j] - origin[i] > bar }
            }
        }

        func validate() throws {
            guard share.isFinite, share >= 0, share <= 1 else {
                throw AgoraError.configuration("must be in [0, 1], got \(share)", field: "purchaseCheck.share")
            }
        }
    }

    public func validate() throws {
        try data.validate()
        try market.validate()
        guard clients >= 2 else { throw AgoraError.configuration("a market needs at least 2 clients, got \(clients)") }
        guard clients <= 100_000 else {
            throw AgoraError(.resources, "at most 100000 clients are supported (the market keeps m x m matrices), got \(clients)")
        }
        guard rounds >= 1, rounds <= 1_000_000 else {
            throw AgoraError.configuration("must be in 1...1000000, got \(rounds)", field: "rounds")
        }
        guard localSteps >= 1, localSteps <= 1_000_000 else {
            throw AgoraError.configuration("must be in 1...1000000, got \(localSteps)", field: "localSteps")
        }
        guard batch >= 1, batch <= 1_000_000 else { throw AgoraError.configuration("must be in 1...1000000, got \(batch)", field: "batch") }
        if let k = minClientRows {
            guard k >= 2 else {
                throw AgoraError.configuration(
                    "minClientRows must be at least 2 (one training and one test row), got \(k)", field: "minClientRows")
            }
        }
        guard testFraction > 0, testFraction < 1 else {
            throw AgoraError.configuration("must be in (0, 1), got \(testFraction)", field: "testFraction")
        }
        guard hidden >= 0 else { throw AgoraError.configuration("hidden must be >= 0, got \(hidden)") }
        guard learningRate.isFinite, learningRate > 0 else {
            throw AgoraError.configuration("learningRate must be positive, got \(learningRate)")
        }
        guard momentum >= 0, momentum < 1 else { throw AgoraError.configuration("momentum must be in [0, 1), got \(momentum)") }
        guard l2 >= 0, l2.isFinite else { throw AgoraError.configuration("l2 must be non-negative, got \(l2)") }
        if let eagerness {
            guard eagerness.isFinite, eagerness >= 0 else {
                throw AgoraError.configuration("eagerness K must be non-negative, got \(eagerness)")
            }
        }
        guard cost.isFinite, cost >= 0 else { throw AgoraError.configuration("cost c must be non-negative, got \(cost)") }
        for (name, list) in [("eagernesses", eagernesses), ("costs", costs)] {
            guard let list else { continue }
            guard list.count == clients else { throw AgoraError.configuration("\(list.count) values for \(clients) clients", field: name) }
            if let bad = list.firstIndex(where: { !($0.isFinite && $0 >= 0) }) {
                throw AgoraError.configuration("client \(bad): \(list[bad]) is not a non-negative finite number", field: name)
            }
        }
        if let s = sizeScale { guard s.isFinite, s > 0 else { throw AgoraError.configuration("sizeScale must be positive, got \(s)") } }
        guard fedproxMu >= 0, dittoLambda >= 0, pfedgraphAlpha >= 0 else {
            throw AgoraError.configuration("baseline parameters must be non-negative")
        }
        guard (fedampLambda ?? 0) >= 0, (0...1).contains(fedampShare ?? 0.5), (0...1).contains(cflRatio ?? 0.4), (cflWarmup ?? 0) >= 0,
            (0.0..<1).contains(fedfomoValidation ?? 0.2), (fedfomoValidation ?? 0.2) > 0
        else {
            throw AgoraError.configuration(
                "FedAMP lambda >= 0 and share in [0, 1], CFL ratio in [0, 1] and warmup >= 0, FedFomo validation fraction in (0, 1)")
        }
        guard !methods.isEmpty else { throw AgoraError.configuration("no method to run") }
        for a in attackers where a.client < 0 || a.client >= clients {
            throw AgoraError.configuration("attacker client \(a.client) is outside 0..<\(clients)")
        }
        for r in misreports {
            guard r.client >= 0, r.client < clients else {
                throw AgoraError.configuration("misreporting client \(r.client) is outside 0..<\(clients)")
            }
            guard r.sizeFactor > 0, r.sizeFactor.isFinite, r.costFactor >= 0, r.costFactor.isFinite else {
                throw AgoraError.configuration("client \(r.client): misreport factors must be positive (size) and non-negative (cost)")
            }
        }
        if Set(attackers.map(\.client)).count != attackers.count { throw AgoraError.configuration("a client is listed twice as attacker") }
        try proxPilot?.validate()
        try purchaseCheck?.validate()
    }

    /// One round of one method.
    public struct Round: Codable, Sendable {
        public var round: Int
        /// Test accuracy of each client's evaluated model (personalized, or the global one).
        public var accuracies: [Double]
        /// Mean over honest clients (not attackers).
        public var meanAccuracy: Double
        /// The reference code's measure: each client's model on the pooled test rows of every
        /// client, weighted by its own label distribution (`FederatedClients.labelWeightedAccuracies`).
        public var labelWeightedAccuracies: [Double]? = nil
        public var utilities: [Double]
        public var cumulativeUtilities: [Double]
        /// Importer -> exporters (the market's graph, or who a baseline's model uses).
        public var imports: [[Int]]
        /// payments[i][k] = r_{i, imports[i][k]} (iPFL; empty lists for baselines, and for a client
        /// whose purchases are unrealised).
        public var payments: [[Double]]
        public var netPayments: [Double]
        public var budgetResidual: Double
        public var active: [Bool]
        /// iPFL: per client, whether its purchases this round (in `imports`, the learned graph) go
        /// unused by its training: prox strength 0, or the last round. They are not paid for and
        /// their gains are not counted in `utilities` (nil for baselines and older results).
        public var unrealised: [Bool]? = nil
    }

    public struct MethodResult: Codable, Sendable {
        public var method: FederatedMethod
        public var rounds: [Round]
        /// Per client: best test accuracy over rounds (the paper's metric).
        public var bestAccuracies: [Double]
        public var meanBestAccuracy: Double
        /// The same for the label-weighted accuracy on the pooled test rows (the reference's measure).
        public var meanBestLabelWeightedAccuracy: Double? = nil
        /// Mean over honest clients of cumulative utility.
        public var meanCumulativeUtility: Double
        public var seconds: Double
        /// Set when the method's training diverged: why, and `rounds` holds the rounds before it.
        /// The other methods of the run go on (one method's learning rate does not end the run).
        public var diverged: String? = nil

        /// iPFL: purchases over all rounds that were paid for (`unrealised` false) or, with
        /// `unrealised`, left unpaid because the buyer's training did not use them; nil for a
        /// method without a market (baselines, older results).
        public func purchases(unrealised: Bool) -> Int? {
            guard rounds.contains(where: { $0.unrealised != nil }) else { return nil }
            return rounds.reduce(0) { total, rd in
                guard let u = rd.unrealised else { return total }
                return total + rd.imports.indices.filter { u[$0] == unrealised }.reduce(0) { $0 + rd.imports[$1].count }
            }
        }

        /// The payments importers made over all rounds (0 for a method without a market).
        public var paymentsMade: Double { rounds.reduce(0) { $0 + $1.payments.reduce(0) { $0 + $1.reduce(0, +) } } }
    }

    public struct Result: Codable, Sendable {
        public var config: MarketExperiment
        public var dataName: String
        public var parameters: Int
        /// True (N, c, K) of each client and what it reports.
        public var truth: [ClientEconomics]
        public var reports: [ClientEconomics]
        public var methods: [MethodResult]
        /// Single-round audit of the last iPFL market (if iPFL ran).
        public var audit: IncentiveAudit.Report?
        /// Each client's prox strength in iPFL (chosen by the pilot, or the market's).
        public var proxStrengths: [Double]? = nil
        /// The eagerness K the run gave every importing client when the configuration left it to
        /// `automaticEagerness` (nil when K was given, or drawn per client).
        public var automaticEagerness: Double? = nil
        /// What a user should look at: an oscillating iPFL graph, iPFL below local training for a
        /// majority of clients.
        public var warnings: [String] = []
        /// iPFL's best accuracy against local training's, honest client by honest client (when both ran).
        public var ipflAgainstLocal: PairedDifference? = nil
    }

    /// The mean of per-client differences a_i - b_i (e.g. iPFL's best accuracy minus local
    /// training's) and its standard error, the sample standard deviation of the differences over
    /// sqrt(n). A gap within two standard errors is at the level of the test splits' noise. Clients
    /// of one market are not independent (they trade with each other), so this is an estimate of
    /// that noise, not a test.
    public struct PairedDifference: Codable, Sendable, Equatable {
        public var mean: Double
        public var standardError: Double
        public var count: Int

        /// Throws unless `a` and `b` have the same, non-zero length (a pair per client).
        public init(_ a: [Double], _ b: [Double]) throws {
            guard a.count == b.count, !a.isEmpty else {
                throw AgoraError.configuration("needs one pair per client: \(a.count) values against \(b.count)", field: "pairedDifference")
            }
            count = a.count
            (mean, standardError) = Self.meanAndStandardError(zip(a, b).map { $0 - $1 })
        }

        /// The mean of `values` and its standard error (sample standard deviation over sqrt(n); NaN
        /// for fewer than 2 values, both NaN for none).
        public static func meanAndStandardError(_ values: [Double]) -> (mean: Double, standardError: Double) {
            let n = Double(values.count)
            guard n > 0 else { return (.nan, .nan) }
            let m = values.reduce(0, +) / n
            return (m, n < 2 ? .nan : (values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / (n - 1) / n).squareRoot())
        }

        public enum Verdict: String, Sendable {
            case above, below, withinNoise = "within noise"
            /// A difference is NaN (a client without a finite accuracy): no verdict.
            case undefined
        }

        /// The mean against two standard errors (with one client, or identical differences, any
        /// non-zero mean is outside; a NaN mean is `undefined`, never "within noise").
        public var verdict: Verdict {
            if mean.isNaN { return .undefined }
            let band = standardError.isNaN ? 0 : 2 * standardError
            return mean > band ? .above : mean < -band ? .below : .withinNoise
        }

        /// One line for a table or a check, e.g. "+0.0020 per client on average, 2 standard errors
        /// 0.0038 over 10 clients: within the test splits' noise"; `unit` names what a pair is.
        public func summary(per unit: String) -> String {
            let verdict: String
            switch self.verdict {
            case .withinNoise: verdict = "within the test splits' noise"
            case .above, .below: verdict = "\(self.verdict.rawValue) beyond that noise"
            case .undefined: verdict = "undefined (a difference is NaN)"
            }
            return cFormat("%+.4f per ", mean) + unit + cFormat(" on average, 2 standard errors %.4f over %ld ", 2 * standardError, count)
                + unit + "s: " + verdict
        }
    }

    /// Loads the data, builds clients and runs every method on identical data, splits and seeds.
    ///
    /// With `placement` (an MPI back-end), this process trains only its own clients, the trained
    /// models are shared after every local training, and the server's step runs on the full matrix
    /// on every rank; only the root evaluates, and its result equals the in-process run's.
    public func run(progress: ((Int, Int) -> Void)? = nil, placement: (any RowPlacement)? = nil) throws -> Result {
        if let placement, placement.rows != clients {
            throw AgoraError.configuration("the placement spreads \(placement.rows) clients, the market has \(clients)")
        }
        try validate()
        let (dataset, parts): (Dataset, [[Int]])
        let least = minClientRows ?? 10
        if let f = dataFile {
            (dataset, parts) = try f.load(agents: clients, seed: seed, minRows: least)
        } else {
            (dataset, parts) = try data.generate()
        }
        if let (c, rows) = parts.enumerated().map({ ($0.offset, $0.element.count) }).first(where: { $0.1 < least }) {
            throw AgoraError.configuration(
                "client \(c) has \(rows) rows after the \(dataFile?.partition.description ?? "synthetic") partition; every client needs at least \(least) (minClientRows): use fewer clients, a larger data set or a less skewed partition",
                field: "minClientRows")
        }
        let model = try ModelFamily.classifier(for: dataset, hidden: hidden, network: network, l2: l2)
        let p = model.parameterCount(features: dataset.features.cols)
        // Per method: about a dozen [clients x parameters] Float matrices (models, personal models,
        // centres, uploads, gradients, velocities, the market's workspace) and m x m Double ones.
        try ResourceLimits.check(
            bytes: 12 * 4 * Double(clients) * Double(p) + 4 * 8 * Double(clients) * Double(clients),
            for: "a market of \(clients) clients x \(p) parameters")
        let fed = try FederatedClients(data: dataset, model: model, partition: parts, testFraction: testFraction, seed: seed)
        let attack = Dictionary(attackers.map { ($0.client, $0.attack) }, uniquingKeysWith: { a, _ in a })
        let scale = sizeScale ?? 5000 / (Double(fed.train.reduce(0) { $0 + $1.count }) / Double(clients))
        let sizes = (0..<clients).map { Double(fed.train[$0].count) * scale }
        let k = eagerness ?? automaticEagerness(sizes: sizes)
        let truth: [ClientEconomics] = (0..<clients).map { i in
            let seller = attack[i]?.seller ?? false
            return ClientEconomics(
                dataSize: sizes[i], cost: seller ? 0 : costs?[i] ?? cost, eagerness: seller ? 0 : eagernesses?[i] ?? k)
        }
        var reports = truth
        if attackConvention == .reference {
            for a in attackers where a.attack == .freeRideConstant || a.attack == .freeRideGaussian { reports[a.client].cost = 0 }
        }
        for r in misreports {
            reports[r.client].dataSize *= r.sizeFactor
            reports[r.client].cost *= r.costFactor
        }
        var results: [MethodResult] = []
        var audit: IncentiveAudit.Report? = nil
        let strengths: [Double]? =
            methods.contains(.ipfl)
            ? try proxPilot.map {
                try choose(
                    $0, dataset: dataset, model: model, fed: fed, truth: truth, reports: reports, attack: attack, placement: placement)
            }
                ?? [Double](repeating: market.proxStrength, count: clients)
            : nil
        let honest = (0..<clients).filter { attack[$0] == nil }
        for (k, method) in methods.enumerated() {
            let t0 = DispatchTime.now().uptimeNanoseconds
            var lastMarket: (Matrix<Double>, [Bool])? = nil, diverged: String? = nil
            let rounds = try simulate(
                method, fed: fed, truth: truth, reports: reports, attack: attack, proxStrengths: strengths,
                placement: placement, lastMarket: &lastMarket, diverged: &diverged
            ) { r in
                progress?(k * self.rounds + r, methods.count * self.rounds)
            }
            let secs = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
            let best = (0..<clients).map { i in rounds.map { $0.accuracies[i] }.filter { !$0.isNaN }.max() ?? .nan }
            let meanBest = honest.map { best[$0] }.reduce(0, +) / Double(max(1, honest.count))
            let bestWeighted = (0..<clients).map { i in
                rounds.compactMap { $0.labelWeightedAccuracies?[i] }.filter { !$0.isNaN }.max() ?? .nan
            }
            let meanBestWeighted = honest.map { bestWeighted[$0] }.reduce(0, +) / Double(max(1, honest.count))
            let cum = rounds.last!.cumulativeUtilities
            results.append(
                MethodResult(
                    method: method, rounds: rounds, bestAccuracies: best, meanBestAccuracy: meanBest,
                    meanBestLabelWeightedAccuracy: meanBestWeighted,
                    meanCumulativeUtility: honest.map { cum[$0] }.reduce(0, +) / Double(max(1, honest.count)),
                    seconds: secs, diverged: diverged))
            if method == .ipfl, let (d, active) = lastMarket {
                audit = try IncentiveAudit.audit(market: market, truth: truth, distances: d, active: active)
            }
        }
        var comparison: PairedDifference? = nil
        if let ipfl = results.first(where: { $0.method == .ipfl }), let local = results.first(where: { $0.method == .local }),
            !honest.isEmpty
        {
            comparison = try PairedDifference(honest.map { ipfl.bestAccuracies[$0] }, honest.map { local.bestAccuracies[$0] })
        }
        return Result(
            config: self, dataName: dataset.name, parameters: fed.parameterCount, truth: truth, reports: reports,
            methods: results, audit: audit, proxStrengths: strengths, automaticEagerness: eagerness == nil && eagernesses == nil ? k : nil,
            warnings: Self.economyWarnings(truth) + Self.warnings(results, honest: honest), ipflAgainstLocal: comparison)
    }

    /// The default eagerness: the smallest K at which a client of the median size can afford every
    /// other client (m - 1 partners) of that size at the median cost (`MarketGain.eagerness`), so
    /// the economy caps no purchase that the price would allow: the distance charge and the
    /// buyers' `PurchaseCheck` decide. When the median cost is 0 the price of a partner at cosine
    /// distance 1, lambda, stands in for it. Scale-free: it follows N, c and the number of clients
    /// (1.71e7 for 10 clients of N = 5000 at c = 1, where the paper's 5e5 affords two).
    public func automaticEagerness(sizes: [Double]) -> Double {
        let c = Self.median(costs ?? [Double](repeating: cost, count: clients))
        return MarketGain.eagerness(affording: max(1, clients - 1), size: Self.median(sizes), cost: c > 0 ? c : market.lambda)
    }

    /// The upper median (the typical client of the economy rules; `v` non-empty).
    static func median(_ v: [Double]) -> Double { v.sorted()[v.count / 2] }

    /// A warning when the economy lets a typical client afford only a handful of purchases: for the
    /// median client (its K and N) and the median cost, the number of partners of its own size
    /// whose marginal gain exceeds that cost (`MarketGain.affordablePartners`). At two or fewer the
    /// graph learning cannot use more collaborators, whatever the data say.
    static func economyWarnings(_ truth: [ClientEconomics]) -> [String] {
        guard !truth.isEmpty else { return [] }
        let k = Self.median(truth.map(\.eagerness)), n = Self.median(truth.map(\.dataSize)), c = Self.median(truth.map(\.cost))
        let p = MarketGain.affordablePartners(eagerness: k, size: n, cost: c)
        guard k > 0, p <= 2 else { return [] }
        return [
            "the economy allows a typical client at most \(p) purchase\(p == 1 ? "" : "s")"
                + cFormat(" (median K = %.3g, N = %.0f, c = %.3g: ", k, n, c)
                + "the next partner of its size gains less than its cost); raise K or lower c to let clients buy more (docs/market.md)"
        ]
    }

    /// Period-2 oscillation of the iPFL graph over its last rounds (each round's edge set at most half
    /// as far from the one two rounds back as from the last one, three rounds running), and iPFL's best accuracy below
    /// local training's for more than half of the honest clients.
    static func warnings(_ results: [MethodResult], honest: [Int]) -> [String] {
        var out: [String] = results.compactMap { m in
            m.diverged.map { "\(m.method.rawValue) diverged at \($0); its results cover the \(m.rounds.count) rounds before" }
        }
        guard let ipfl = results.first(where: { $0.method == .ipfl }) else { return out }
        let edges = ipfl.rounds.map { r in Set(r.imports.enumerated().flatMap { i, js in js.map { "\(i)>\($0)" } }) }
        var alternating = 0
        for t in stride(from: edges.count - 1, through: 2, by: -1) {
            // Closer (in edges added or dropped) to two rounds ago than to the last round, by half.
            let back2 = edges[t].symmetricDifference(edges[t - 2]).count, back1 = edges[t].symmetricDifference(edges[t - 1]).count
            guard back1 > 0, 2 * back2 <= back1 else { break }
            alternating += 1
        }
        if alternating >= 3 {
            out.append(
                "the iPFL graph oscillates with period 2 over its last \(alternating + 2) rounds (\(edges.last!.count) and \(edges[edges.count - 2].count) edges in turn): clients buy a model, are pulled towards it, drop it and come back; a smaller centre step (eta) or the relative centre step damps it"
            )
        }
        if let local = results.first(where: { $0.method == .local }) {
            let below = honest.filter { ipfl.bestAccuracies[$0] < local.bestAccuracies[$0] - 1e-12 }
            if below.count * 2 > honest.count {
                out.append(
                    "iPFL's best accuracy is below local training's for \(below.count) of \(honest.count) honest clients (\(below.map(String.init).joined(separator: ", "))): the market's personalization does not help on this data"
                )
            }
        }
        return out
    }

    /// The pilot of `ProxPilot`: the candidate strength with the lowest validation loss, for the
    /// market or per client (`ProxPilot.select`).
    func choose(
        _ pilot: ProxPilot, dataset: Dataset, model: ModelFamily, fed: FederatedClients, truth: [ClientEconomics],
        reports: [ClientEconomics], attack: [Int: MarketAttack], placement: (any RowPlacement)? = nil
    ) throws -> [Double] {
        let validation = try FederatedClients(
            data: dataset, model: model, partition: fed.train, testFraction: pilot.validationFraction,
            seed: seed ^ 0x9170_7000)
        var short = self
        short.rounds = pilot.rounds
        let candidates = pilot.candidates.sorted()
        let losses = try candidates.map { mu -> [Double] in
            var run = FederatedRun(experiment: short, fed: validation, truth: truth, reports: reports, attack: attack, placement: placement)
            var strategy = short.makeStrategy(.ipfl, origin: run.origin, proxStrengths: [Double](repeating: mu, count: clients))
            for t in 0..<pilot.rounds { _ = try strategy.round(t, run: &run) }
            switch pilot.criterion ?? .loss {
            case .loss: return try validation.testLosses(run.theta)
            // Minimised by `select`: the error rate.
            case .accuracy: return try validation.accuracies(run.theta).map { 1 - $0 }
            }
        }
        return ProxPilot.select(candidates: candidates, losses: losses, rows: validation.test.map(\.count), scope: pilot.scope ?? .client)
    }

    func simulate(
        _ method: FederatedMethod, fed: FederatedClients, truth: [ClientEconomics], reports: [ClientEconomics],
        attack: [Int: MarketAttack], proxStrengths: [Double]? = nil, placement: (any RowPlacement)? = nil,
        lastMarket: inout (Matrix<Double>, [Bool])?, diverged: inout String?,
        tick: (Int) -> Void
    ) throws -> [Round] {
        let m = clients
        // FedFomo scores models on validation rows split off the training rows (not trained on);
        // every method is evaluated on the same test rows of `fed`.
        let training =
            method == .fedfomo
            ? try FederatedClients(
                data: fed.data, model: fed.model, partition: fed.train, testFraction: fedfomoValidation ?? 0.2,
                seed: seed ^ 0xF0F0_0000)
            : fed
        var run = FederatedRun(experiment: self, fed: training, truth: truth, reports: reports, attack: attack, placement: placement)
        // Only the reporting process evaluates (the others' rounds carry NaN accuracies).
        let evaluates = placement?.isRoot ?? true
        var strategy = makeStrategy(method, origin: run.origin, proxStrengths: proxStrengths)
        var cumulative = [Double](repeating: 0, count: m)
        // Dropout state: active rounds and individually rational ones per client; one seeded stream
        // (the same for every method, so methods see the same draws).
        var activeRounds = [Int](repeating: 0, count: m), rationalRounds = [Int](repeating: 0, count: m)
        var leaveDraws = SeededGenerator(seed: seed, stream: 0xD809)
        var out: [Round] = []
        for t in 0..<rounds {
            let r: FederatedRoundResult
            do {
                r = try strategy.round(t, run: &run)
            } catch let e as AgoraError where e.kind == .numerical && !out.isEmpty {
                // The method stops here; its rounds so far stand (every process sees the same
                // divergence: `FederatedRun.train` checks after the rows are shared).
                diverged = "round \(t + 1): \(e.message)"
                break
            }
            var utilities = [Double](repeating: 0, count: m)
            if let market = r.market {
                utilities = market.outcome.utilities
                lastMarket = (market.distances, run.active)
            } else {
                // Baselines pay nothing: utility = gain from what is used minus export costs.
                var buyers = [Int](repeating: 0, count: m)
                for js in r.imports { for j in js { buyers[j] += 1 } }
                for i in 0..<m {
                    let total = r.imports[i].reduce(truth[i].dataSize) { $0 + truth[$1].dataSize }
                    utilities[i] =
                        MarketGain.gain(eagerness: truth[i].eagerness, own: truth[i].dataSize, total: total)
                        - truth[i].cost * Double(buyers[i])
                }
            }
            for i in 0..<m { cumulative[i] += utilities[i] }
            let accs = evaluates ? try fed.accuracies(r.evaluated) : [Double](repeating: .nan, count: m)
            let honest = (0..<m).filter { attack[$0] == nil }
            let mean = honest.map { accs[$0] }.reduce(0, +) / Double(max(1, honest.count))
            let labelWeighted = evaluates && labelWeightedAccuracy ?? true ? try fed.labelWeightedAccuracies(r.evaluated) : nil
            let payments = r.market?.outcome.payments ?? [[Double]](repeating: [], count: m)
            let net = r.market?.outcome.netPayments ?? [Double](repeating: 0, count: m)
            out.append(
                Round(
                    round: t + 1, accuracies: accs, meanAccuracy: mean, labelWeightedAccuracies: labelWeighted,
                    utilities: utilities, cumulativeUtilities: cumulative, imports: r.imports, payments: payments,
                    netPayments: net, budgetResidual: r.market?.outcome.budgetResidual ?? 0, active: run.active,
                    unrealised: r.unrealised))
            // 8. Optional dropout.
            if dropout {
                let rule = dropoutRule ?? .negativeUtility
                for i in 0..<m where run.active[i] {
                    activeRounds[i] += 1
                    if utilities[i] >= -DropoutRule.tolerance { rationalRounds[i] += 1 }
                    if rule.leaves(
                        utility: utilities[i], rational: rationalRounds[i], rounds: activeRounds[i], draw: { leaveDraws.uniform() })
                    {
                        run.active[i] = false
                    }
                }
            }
            tick(t + 1)
        }
        return out
    }

    /// The strategy object of one method (its own state: global model, centres, workspace).
    func makeStrategy(_ method: FederatedMethod, origin: [Float], proxStrengths: [Double]? = nil) -> any FederatedStrategy {
        switch method {
        case .ipfl:
            return IPFLStrategy(
                market: market, seed: seed, strengths: proxStrengths ?? [Double](repeating: market.proxStrength, count: clients))
        case .local: return LocalStrategy()
        case .fedavg: return FedAvgStrategy(global: origin, proximal: nil)
        case .fedprox: return FedAvgStrategy(global: origin, proximal: fedproxMu)
        case .ditto: return DittoStrategy(global: origin, lambda: dittoLambda)
        case .pfedgraph: return PFedGraphStrategy(alpha: pfedgraphAlpha)
        case .fedamp: return FedAMPStrategy(lambda: fedampLambda ?? 0.1, share: fedampShare ?? 0.5)
        case .cfl: return CFLStrategy(ratio: cflRatio ?? 0.4, warmup: cflWarmup ?? 3)
        case .fedfomo: return FedFomoStrategy()
        }
    }
}
