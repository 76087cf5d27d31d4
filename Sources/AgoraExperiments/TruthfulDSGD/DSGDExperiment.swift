import AgoraKernels
import AgoraLearning
import AgoraMechanisms
import AgoraTopology
import Foundation

/// A strategic behaviour of one agent in truthful DSGD (spec: "Strategic behaviours to simulate").
public enum Behaviour: Codable, Sendable, Equatable, CustomStringConvertible {
    /// m = alpha g (alpha >= 1).
    case inflate(alpha: Double)
    /// m = g + zeta, zeta ~ N(0, sigma^2 I).
    case noise(sigma: Double)
    /// alpha chosen each step as max(1, lambda_t / (L lambda_t^2 + 2 C_t d_i)) (the one-step best
    /// response with the agent's own mini-batch gradient standing in for grad f_i).
    case bestResponse(smoothness: Double)
    /// m = 0.
    case freeRide
    /// Applies g truthfully but reports factor * ||g||^2 (the mechanism trusts reports).
    case misreport(factor: Double)

    public var description: String {
        switch self {
        case let .inflate(a): return "inflate x\(a)"
        case let .noise(s): return "noise sigma=\(s)"
        case let .bestResponse(l): return "best response (L=\(l))"
        case .freeRide: return "free-ride"
        case let .misreport(f): return "misreport x\(f)"
        }
    }
}

/// A complete truthful-DSGD experiment as data (echoed into every output).
public struct DSGDExperiment: Codable, Sendable, Equatable {
    public struct Strategic: Codable, Sendable, Equatable {
        public var agent: Int
        public var behaviour: Behaviour
        public init(agent: Int, behaviour: Behaviour) { self.agent = agent; self.behaviour = behaviour }
    }
    public var data = SyntheticProblem()
    /// A data file (LIBSVM, IDX images, CSV) split across `data.agents` agents by `partition`;
    /// when nil the synthetic problem is used. The model is `data.loss`.
    public var dataFile: DataFile? = nil
    public var l2 = 1e-3
    public var topology: Topology = .exponential
    public var weights: WeightScheme = .metropolis
    public var mechanism = TruthfulDSGD(stepSize: PowerSchedule(initial: 0.5, exponent: 0.6),
                                        payments: PaymentRule(coefficient: PowerSchedule(initial: 1e-4, exponent: 0.1)))
    public var batch = 16
    public var iterations = 1000
    public var evaluateEvery = 10
    public var seed: UInt64 = 1
    public var strategic: [Strategic] = []
    public init() {}

    public func validate() throws {
        try data.validate()
        try mechanism.validate()
        guard batch >= 1 else { throw AgoraError.configuration("batch must be at least 1, got \(batch)") }
        guard iterations >= 1 else { throw AgoraError.configuration("iterations must be at least 1, got \(iterations)") }
        guard evaluateEvery >= 1 else { throw AgoraError.configuration("evaluateEvery must be at least 1, got \(evaluateEvery)") }
        guard l2 >= 0 else { throw AgoraError.configuration("l2 must be non-negative, got \(l2)") }
        for s in strategic {
            guard s.agent >= 0 && s.agent < data.agents else {
                throw AgoraError.configuration("strategic agent index \(s.agent) is outside 0..<\(data.agents)")
            }
            switch s.behaviour {
            case let .inflate(a): guard a >= 1 else { throw AgoraError.configuration("inflate alpha must be >= 1, got \(a)") }
            case let .noise(sg): guard sg >= 0 else { throw AgoraError.configuration("noise sigma must be >= 0, got \(sg)") }
            case let .bestResponse(l): guard l > 0 else { throw AgoraError.configuration("best-response smoothness must be > 0, got \(l)") }
            case let .misreport(f): guard f >= 0 else { throw AgoraError.configuration("misreport factor must be >= 0, got \(f)") }
            case .freeRide: break
            }
        }
        if Set(strategic.map(\.agent)).count != strategic.count { throw AgoraError.configuration("an agent is listed twice in strategic") }
    }

    /// Per-evaluation metrics of one run.
    public struct Point: Codable, Sendable {
        public var iteration: Int
        /// f(theta_bar) - f*, pooled objective at the network average.
        public var optimalityGap: Double
        /// mean_i ||theta_i - theta*||.
        public var distance: Double
        /// sum_i ||theta_i - theta_bar||^2.
        public var consensusError: Double
        /// |sum_i P_i| at this iteration.
        public var budgetResidual: Double
        /// Accuracy of theta_bar on the pooled training data (logistic only).
        public var accuracy: Double?
        /// Accuracy of theta_bar on the held-out file (`DataFile.testPath`), if any.
        public var testAccuracy: Double? = nil
        /// Per agent: cumulative payments and utility = -f_i(theta_i) - cumulative payments.
        public var cumulativePayments: [Double]
        public var utilities: [Double]
    }

    public struct Run: Codable, Sendable {
        public var label: String
        public var points: [Point]
    }

    public struct Result: Codable, Sendable {
        public var config: DSGDExperiment
        public var fStar: Double
        public var warnings: [String]
        /// Runs: "payments" (as configured), "no-payments", "all-truthful" (what deterrence buys:
        /// payments never change the updates, only the incentives), and per strategic agent
        /// "payments/truthful-<i>" and "no-payments/truthful-<i>" for its counterfactual.
        public var runs: [Run]
        /// For each strategic agent: cumulative gain (utility minus its utility in the same run with
        /// it truthful) at each evaluation, with and without payments.
        public var gains: [Gain]
        public var secondsPerIteration: Double
    }

    public struct Gain: Codable, Sendable {
        public var agent: Int
        public var behaviour: String
        public var iterations: [Int]
        public var withPayments: [Double]
        public var withoutPayments: [Double]
    }

    /// Everything needed to continue an interrupted experiment exactly: the experiment, the runs
    /// already finished, and the state of the run in progress (parameters, ledgers, every random
    /// stream, the metrics so far). Floats are written in their shortest exact decimal form, so a
    /// resumed run reproduces the uninterrupted one bit for bit.
    public struct Checkpoint: Codable, Sendable {
        public var config: DSGDExperiment
        /// Index of the run in progress in the fixed list of runs (see `Result.runs`).
        public var run: Int
        public var finishedRuns: [Run]
        /// Iterations of the run in progress already done.
        public var iteration: Int
        public var parameters: [Float]
        public var cumulativePayments: [Double]
        public var batchStreams: [SeededGenerator]
        public var noiseStreams: [SeededGenerator]
        public var points: [Point]
        public var lastResidual: Double

        /// Reads a checkpoint, naming the file in every error.
        public static func read(path: String) throws -> Checkpoint {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw AgoraError.io("cannot read the checkpoint file", file: path)
            }
            do { return try JSONDecoder().decode(Checkpoint.self, from: data) } catch {
                throw AgoraError.io("not an Agora DSGD checkpoint (\(error))", file: path)
            }
        }

        /// Writes atomically (a temporary file renamed over the target), so an interruption during
        /// the write leaves the previous checkpoint intact.
        public func write(path: String) throws {
            let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys]
            try enc.encode(self).write(to: URL(fileURLWithPath: path), options: .atomic)
        }
    }

    /// Where and how often to checkpoint, and optionally when to stop (for jobs with a wall-time
    /// limit: stop after `stopAfter` iterations of this invocation, at a checkpoint).
    public struct CheckpointPolicy: Sendable {
        public var path: String
        public var every: Int
        public var stopAfter: Int?
        public init(path: String, every: Int, stopAfter: Int? = nil) { self.path = path; self.every = every; self.stopAfter = stopAfter }
    }

    /// Thrown when a run stops at a checkpoint on purpose (`CheckpointPolicy.stopAfter`).
    public struct Stopped: Error, CustomStringConvertible {
        public let checkpoint: String
        public let iterations: Int
        public var description: String { "stopped after \(iterations) iterations; the checkpoint to resume from is \(checkpoint)" }
    }

    /// Runs the configured experiment, the payments-off baseline, and the counterfactual runs.
    /// With `checkpoints`, the state is written every `every` iterations of every run; with
    /// `resume`, the experiment continues from a checkpoint of this same experiment.
    public func run(progress: ((Int, Int) -> Void)? = nil, checkpoints: CheckpointPolicy? = nil,
                    resume: Checkpoint? = nil) throws -> Result {
        try validate()
        let (dataset, parts) = try dataFile.map { try $0.load(agents: data.agents, seed: seed) } ?? data.generate()
        let model = LinearModel(loss: data.loss, l2: l2)
        let y = try model.targets(dataset)
        let test = try dataFile?.loadTest(matching: dataset).map { ($0.features.double, try model.targets($0)) }
        let reference = try ReferenceSolver.solve(model, features: dataset.features.double, targets: y)
        let exchange = try InProcessExchange(topology: topology, weights: weights, agents: data.agents, seed: seed)
        var variants: [(String, TruthfulDSGD, [Strategic])] = []
        let off = TruthfulDSGD(stepSize: mechanism.stepSize, payments: nil)
        variants.append(("payments", mechanism, strategic))
        variants.append(("no-payments", off, strategic))
        if !strategic.isEmpty { variants.append(("all-truthful", mechanism, [])) }
        for s in strategic {
            let others = strategic.filter { $0.agent != s.agent }
            variants.append(("payments/truthful-\(s.agent)", mechanism, others))
            variants.append(("no-payments/truthful-\(s.agent)", off, others))
        }
        if let resume {
            guard resume.config == self else { throw AgoraError.io("the checkpoint belongs to a different experiment (its config differs)") }
            guard resume.run >= 0, resume.run <= variants.count, resume.finishedRuns.count == resume.run,
                  resume.iteration >= 0, resume.iteration <= iterations else {
                throw AgoraError.io("the checkpoint is inconsistent (run \(resume.run) of \(variants.count), iteration \(resume.iteration) of \(iterations))")
            }
        }
        var runs: [Run] = resume?.finishedRuns ?? []
        let start = DispatchTime.now().uptimeNanoseconds
        var done = 0
        for (k, v) in variants.enumerated() where k >= runs.count {
            let state = resume.flatMap { $0.run == k ? $0 : nil }
            let doneBefore = done
            let save: ((Checkpoint) throws -> Void)? = checkpoints.map { policy in
                { c in
                    var c = c; c.run = k; c.finishedRuns = runs
                    try c.write(path: policy.path)
                    let sessionIterations = doneBefore + c.iteration - (state?.iteration ?? 0)
                    if let stop = policy.stopAfter, sessionIterations >= stop {
                        throw Stopped(checkpoint: policy.path, iterations: sessionIterations)
                    }
                }
            }
            let points = try simulate(v.1, v.2, dataset: dataset, parts: parts, model: model, targets: y, test: test, reference: reference,
                                      exchange: exchange, resume: state, checkpointEvery: checkpoints?.every ?? 0, save: save) { t in
                progress?(k * iterations + t, variants.count * iterations)
            }
            done += iterations - (state?.iteration ?? 0)
            runs.append(Run(label: v.0, points: points))
        }
        let secs = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9 / Double(max(1, done))
        var gains: [Gain] = []
        for s in strategic {
            func curve(_ a: String, _ b: String) -> [Double] {
                let ra = runs.first { $0.label == a }!, rb = runs.first { $0.label == b }!
                return zip(ra.points, rb.points).map { $0.utilities[s.agent] - $1.utilities[s.agent] }
            }
            gains.append(Gain(agent: s.agent, behaviour: s.behaviour.description, iterations: runs[0].points.map(\.iteration),
                              withPayments: curve("payments", "payments/truthful-\(s.agent)"),
                              withoutPayments: curve("no-payments", "no-payments/truthful-\(s.agent)")))
        }
        return Result(config: self, fStar: reference.fStar, warnings: mechanism.warnings, runs: runs, gains: gains, secondsPerIteration: secs)
    }

    func simulate(_ mech: TruthfulDSGD, _ strategicAgents: [Strategic], dataset: Dataset, parts: [[Int]], model: LinearModel,
                  targets y: [Double], test: (FeatureRows<Double>, [Double])?, reference: ReferenceSolver.Result,
                  exchange: InProcessExchange, resume: Checkpoint?, checkpointEvery: Int, save: ((Checkpoint) throws -> Void)?,
                  tick: (Int) -> Void) throws -> [Point] {
        let n = data.agents, d = dataset.features.cols
        let x = dataset.features.float, yf = y.map(Float.init)
        var theta = Matrix<Float>(rows: n, cols: d), next = theta, grads = theta, applied = theta
        var losses = [Float](repeating: 0, count: n)
        var cumulative = [Double](repeating: 0, count: n)
        // Independent seeded streams: mini-batches per agent, strategic noise per agent.
        var batchRNG = (0..<n).map { SeededGenerator(seed: seed, stream: 1000 + UInt64($0)) }
        var noiseRNG = (0..<n).map { SeededGenerator(seed: seed, stream: 5000 + UInt64($0)) }
        let behaviour = Dictionary(strategicAgents.map { ($0.agent, $0.behaviour) }, uniquingKeysWith: { a, _ in a })
        let degrees = exchange.degrees(iteration: 0)
        var points: [Point] = []
        var lastResidual = 0.0
        func evaluate(_ t: Int) throws {
            let mean = Kernels.rowMean(theta).map(Double.init)
            let full = try model.evaluate(mean, features: dataset.features.double, targets: y)
            let dist = try Kernels.rowDistances(theta, to: reference.theta).reduce(0, +)
            var g = Matrix<Float>(rows: n, cols: d), l = [Float](repeating: 0, count: n)
            try Kernels.glmGradients(loss: model.loss, l2: Float(l2), features: x, targets: yf, parameters: theta,
                                     batches: parts, gradients: &g, losses: &l)
            points.append(Point(iteration: t, optimalityGap: full.value - reference.fStar, distance: dist / Double(n),
                                consensusError: Double(Kernels.consensusError(theta)), budgetResidual: lastResidual,
                                accuracy: full.accuracy,
                                testAccuracy: try test.flatMap { try model.evaluate(mean, features: $0.0, targets: $0.1).accuracy },
                                cumulativePayments: cumulative,
                                utilities: (0..<n).map { -Double(l[$0]) - cumulative[$0] }))
        }
        var first = 0
        if let c = resume {
            guard c.parameters.count == n * d, c.cumulativePayments.count == n, c.batchStreams.count == n, c.noiseStreams.count == n else {
                throw AgoraError.io("the checkpoint's state does not fit \(n) agents x \(d) parameters")
            }
            theta = try Matrix(rows: n, cols: d, storage: c.parameters)
            cumulative = c.cumulativePayments
            batchRNG = c.batchStreams
            noiseRNG = c.noiseStreams
            points = c.points
            lastResidual = c.lastResidual
            first = c.iteration
        } else {
            try evaluate(0)
        }
        for t in first..<iterations {
            let batches = (0..<n).map { a in (0..<batch).map { _ in parts[a][Int(batchRNG[a].next() % UInt64(parts[a].count))] } }
            try Kernels.glmGradients(loss: model.loss, l2: Float(l2), features: x, targets: yf, parameters: theta,
                                     batches: batches, gradients: &grads, losses: &losses, computeLosses: false)
            applied = grads
            var norms = Kernels.rowSquaredNorms(grads).map(Double.init)
            for (i, b) in behaviour {
                switch b {
                case let .inflate(a): try Kernels.scaleRow(&applied, row: i, by: Float(a)); norms[i] *= a * a
                case let .noise(s): norms[i] = try Kernels.addGaussianNoise(&applied, row: i, sigma: s, rng: &noiseRNG[i])
                case let .bestResponse(l):
                    let lam = mech.stepSize(t)
                    let c = mech.payments.map { $0.coefficient(t) } ?? 0
                    let a = max(1, lam / (l * lam * lam + 2 * c * Double(degrees[i])))
                    try Kernels.scaleRow(&applied, row: i, by: Float(a)); norms[i] *= a * a
                case .freeRide: try Kernels.fillRow(&applied, row: i, with: 0); norms[i] = 0
                case let .misreport(f): norms[i] *= f
                }
            }
            let pay = try mech.step(iteration: t, parameters: theta, applied: applied, reports: norms, exchange: exchange, into: &next)
            for i in 0..<n { cumulative[i] += pay[i] }
            lastResidual = abs(pay.reduce(0, +))
            if let bad = Kernels.firstNonFiniteRow(next) {
                throw AgoraError.numerical("non-finite parameter of agent \(bad) at iteration \(t): lower the step size (stepSize.initial)")
            }
            swap(&theta, &next)
            if (t + 1) % evaluateEvery == 0 || t + 1 == iterations { try evaluate(t + 1) }
            if let save, checkpointEvery > 0, (t + 1) % checkpointEvery == 0 || t + 1 == iterations {
                try save(Checkpoint(config: self, run: 0, finishedRuns: [], iteration: t + 1, parameters: theta.storage,
                                    cumulativePayments: cumulative, batchStreams: batchRNG, noiseStreams: noiseRNG,
                                    points: points, lastResidual: lastResidual))
            }
            tick(t + 1)
        }
        return points
    }
}
