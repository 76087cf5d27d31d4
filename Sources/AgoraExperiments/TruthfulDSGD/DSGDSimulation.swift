import AgoraKernels
import AgoraLearning
import AgoraMechanisms
import AgoraTopology
import Foundation

extension DSGDExperiment {
    /// What every run of one experiment shares: the data (with the intercept column when asked),
    /// the agents' shards, the model and its reference optimum, the exchange, the test set.
    struct Prepared {
        let dataset: Dataset
        let parts: [[Int]]
        let model: LinearModel
        let targets: [Double]
        let targetsFloat: [Float]
        let test: (FeatureRows<Float>, [Double])?
        let reference: ReferenceSolver.Result
        /// In process, or one rank's share of the agents under MPI (`localAgents`).
        let exchange: any NeighborExchange
        /// Per agent, the trace bound on the smoothness of f_i (for the myopic best response).
        let smoothness: [Double]
        /// Whether the agents' rows cover every row of the data once: an evaluation then gets the
        /// pooled objective from the same pass as the agents' losses (`glmBatchAndPooledLosses`).
        let partsCoverRows: Bool
        /// Rows of each agent's own distribution that it does not train on (synthetic data), with
        /// their targets and each agent's rows: the individual-rationality audit's objective.
        let heldOut: (features: FeatureRows<Float>, targets: [Float], parts: [[Int]])?
    }

    /// Loads or generates the data and solves the reference problem once for all runs; `exchange`
    /// replaces the in-process one (an MPI back-end: this process then simulates its own agents).
    func prepare(referenceProgress: ((Int, Double) -> Void)? = nil, exchange given: (any NeighborExchange)? = nil) throws -> Prepared {
        var heldOutSet: Dataset? = nil
        var (dataset, parts): (Dataset, [[Int]])
        if let f = dataFile {
            (dataset, parts) = try f.load(agents: data.agents, seed: seed)
        } else {
            // Held-out rows for the individual-rationality audit: as many per agent as it trains on.
            let g = try data.generate(heldOutRowsPerAgent: irAudit == .off ? 0 : data.rowsPerAgent)
            (dataset, parts, heldOutSet) = (g.data, g.partition, g.heldOut)
        }
        var testSet = try dataFile?.loadTest(matching: dataset)
        if usesIntercept {
            dataset.features = try dataset.features.appendingConstantColumn(1)
            if var t = testSet {
                t.features = try t.features.appendingConstantColumn(1)
                testSet = t
            }
        }
        // Parameters, next iterate, gradients, applied updates and the evaluation's gradients
        // ([agents x d] Float each), the batches, the features (Float, 4 bytes per stored entry,
        // plus 8 per sparse entry's column and row bookkeeping, counted generously).
        try ResourceLimits.check(
            bytes: 5 * 4 * Double(data.agents) * Double(dataset.features.cols)
                + 8 * Double(data.agents) * Double(batch) + 4 * Double(dataset.features.storedEntries),
            for: "DSGD on \(data.agents) agents x \(dataset.features.cols) parameters")
        let model = LinearModel(loss: data.loss, l2: l2)
        let y = try model.targets(dataset)
        // The reference solve and the evaluations read the Float features as Double (exactly):
        // no Double copy of the data is held.
        let test = try testSet.map { ($0.features, try model.targets($0)) }
        let reference = try ReferenceSolver.solve(model, features: dataset.features, targets: y, progress: referenceProgress)
        let exchange =
            try given
            ?? InProcessExchange(
                topology: topology, weights: weights, agents: data.agents, seed: seed,
                strategy: mixStrategy ?? .auto)
        guard exchange.agents == data.agents else {
            throw AgoraError.configuration("the exchange connects \(exchange.agents) agents, the experiment has \(data.agents)")
        }
        let rowNorms = Kernels.wideRowSquaredNorms(dataset.features)
        let curvature = data.loss == .logistic ? 0.25 : 1.0
        let smoothness = parts.map { p in curvature * p.reduce(0.0) { $0 + rowNorms[$1] } / Double(max(1, p.count)) + l2 }
        var seen = [Bool](repeating: false, count: dataset.rows), once = true, owned = 0
        for p in parts {
            for i in p {
                if seen[i] { once = false }
                seen[i] = true
                owned += 1
            }
        }
        let heldOut = try heldOutSet.map { h in
            let per = h.rows / max(1, data.agents)
            return (h.features, try model.targets(h).map(Float.init), (0..<data.agents).map { Array(($0 * per)..<(($0 + 1) * per)) })
        }
        return Prepared(
            dataset: dataset, parts: parts, model: model, targets: y, targetsFloat: y.map(Float.init),
            test: test, reference: reference, exchange: exchange, smoothness: smoothness,
            partsCoverRows: once && owned == dataset.rows, heldOut: heldOut)
    }

    /// Whether the model gets an intercept column: as configured, else on for data files (real
    /// data has no centred features) and off for the synthetic problem (generated without one).
    public var usesIntercept: Bool { intercept ?? (dataFile != nil) }

    /// The state of one simulated run and its iteration: gradients, the agents' behaviours, the
    /// mechanism step, the payment ledger. Every random stream is per agent and independent of the
    /// behaviours, so a counterfactual run (one agent changed) sees the same mini-batches. It holds
    /// the exchange's local agents only (all of them in process; row k is agent `first + k`).
    struct Simulation {
        let context: Prepared
        let mechanism: TruthfulDSGD
        let behaviour: [Int: Behaviour]
        let batch: Int
        var theta: Matrix<Float>
        var next: Matrix<Float>, grads: Matrix<Float>, applied: Matrix<Float>
        var losses: [Float]
        var cumulative: [Double]
        var batchRNG: [SeededGenerator]
        var noiseRNG: [SeededGenerator]
        var lastResidual = 0.0
        /// This iteration's mini-batch of every local agent (rows of the data set), reused.
        var batches: [[Int]] = []

        /// Global index of local row 0.
        let first: Int

        init(context: Prepared, mechanism: TruthfulDSGD, strategic: [Strategic], batch: Int, seed: UInt64) {
            let local = context.exchange.localAgents, n = local.count, d = context.dataset.features.cols
            self.context = context
            self.mechanism = mechanism
            self.batch = batch
            first = local.lowerBound
            behaviour = Dictionary(
                strategic.filter { local.contains($0.agent) }.map { ($0.agent - local.lowerBound, $0.behaviour) },
                uniquingKeysWith: { a, _ in a })
            theta = Matrix<Float>(rows: n, cols: d)
            next = theta
            grads = theta
            applied = theta
            losses = [Float](repeating: 0, count: n)
            cumulative = [Double](repeating: 0, count: n)
            batchRNG = local.map { SeededGenerator(seed: seed, stream: 1000 + UInt64($0)) }
            noiseRNG = local.map { SeededGenerator(seed: seed, stream: 5000 + UInt64($0)) }
        }

        /// Every local agent's mini-batch gradient at `theta` into `grads`, the batches drawn from
        /// its own stream.
        mutating func gradients() throws {
            let n = theta.rows, parts = context.parts, model = context.model
            // The mini-batches are drawn into arrays kept from the last iteration (1000 agents drew
            // 1000 fresh arrays per iteration: a tenth of the loop in malloc, free and reference counts).
            if batches.count != n { batches = [[Int]](repeating: [Int](repeating: 0, count: batch), count: n) }
            for a in 0..<n {
                let own = parts[first + a], count = UInt64(own.count)
                var rng = batchRNG[a]
                batches[a].withUnsafeMutableBufferPointer { b in
                    own.withUnsafeBufferPointer { o in
                        for k in 0..<b.count { b[k] = o[Int(rng.next() % count)] }
                    }
                }
                batchRNG[a] = rng
            }
            try Kernels.glmGradients(
                loss: model.loss, l2: Float(model.l2), features: context.dataset.features, targets: context.targetsFloat,
                parameters: theta, batches: batches, gradients: &grads, losses: &losses, computeLosses: false)
        }

        /// Iteration t of every agent training alone (the individual-rationality audit's outside
        /// option): the same mini-batches and step size as in the network, no neighbours, no
        /// payments: theta_i <- theta_i - lambda_t g_i.
        mutating func advanceAlone(_ t: Int) throws {
            try gradients()
            next = theta
            Kernels.subtractScaledRows([Float](repeating: Float(mechanism.stepSize(t)), count: theta.rows), grads, from: &next)
            if let bad = Kernels.firstNonFiniteRow(next) {
                throw AgoraError.numerical(
                    "non-finite parameter of agent \(first + bad) training alone at iteration \(t): lower the step size (stepSize.initial)")
            }
            swap(&theta, &next)
        }

        /// Iteration t: mini-batch gradients, behaviours, the mechanism's step and payments.
        mutating func advance(_ t: Int) throws {
            let n = theta.rows
            try gradients()
            // The applied directions are the gradients unless a behaviour edits them: copying only
            // then keeps `grads` unshared, so the next iteration writes it in place.
            if !behaviour.isEmpty { applied = grads }
            var norms = Kernels.rowSquaredNorms(grads).map(Double.init)
            for (i, b) in behaviour {
                switch b {
                case let .inflate(a):
                    try Kernels.scaleRow(&applied, row: i, by: Float(a))
                    norms[i] *= a * a
                case let .inflateSchedule(a0, decay):
                    let a = 1 + (a0 - 1) * pow(Double(t + 1), -decay)
                    try Kernels.scaleRow(&applied, row: i, by: Float(a))
                    norms[i] *= a * a
                case let .noise(s): norms[i] = try Kernels.addGaussianNoise(&applied, row: i, sigma: s, rng: &noiseRNG[i])
                case let .bestResponse(l):
                    let a = try myopicInflation(
                        agent: i, iteration: t, smoothness: l ?? context.smoothness[first + i], reportedNorm: norms[i])
                    try Kernels.scaleRow(&applied, row: i, by: Float(a))
                    norms[i] *= a * a
                case .freeRide:
                    try Kernels.fillRow(&applied, row: i, with: 0)
                    norms[i] = 0
                case let .misreport(f): norms[i] *= f
                }
            }
            let pay = try mechanism.step(
                iteration: t, parameters: theta, applied: behaviour.isEmpty ? grads : applied, reports: norms,
                exchange: context.exchange, into: &next)
            // Diverged parameters first: they make the reports, and so the payments, non-finite
            // too, and the step size is then the cause, not the payment coefficient.
            if let bad = Kernels.firstNonFiniteRow(next) {
                throw AgoraError.numerical(
                    "non-finite parameter of agent \(first + bad) at iteration \(t): lower the step size (stepSize.initial)")
            }
            for i in 0..<n { cumulative[i] += pay[i] }
            if let bad = cumulative.firstIndex(where: { !$0.isFinite }) {
                throw AgoraError.numerical(
                    "non-finite payment ledger of agent \(first + bad) at iteration \(t): lower the payment coefficient (payments.coefficient.initial) or the step size"
                )
            }
            // The residual sums every agent's payment in agent order (on the root under MPI).
            if let all = try context.exchange.gather(pay) { lastResidual = abs(all.reduce(0, +)) }
            swap(&theta, &next)
        }

        /// alpha_t of the myopic best response (see `Behaviour.bestResponse`) for agent i, whose
        /// mini-batch gradient is row i of `grads` with squared norm `gg`.
        func myopicInflation(agent i: Int, iteration t: Int, smoothness L: Double, reportedNorm gg: Double) throws -> Double {
            guard gg > 0 else { return 1 }
            let d = theta.cols
            var full = Matrix<Float>(rows: 1, cols: d), l: [Float] = [0]
            let own = try Matrix(rows: 1, cols: d, storage: Array(theta.storage[(i * d)..<((i + 1) * d)]))
            try Kernels.glmGradients(
                loss: context.model.loss, l2: Float(context.model.l2), features: context.dataset.features,
                targets: context.targetsFloat, parameters: own, batches: [context.parts[first + i]],
                gradients: &full, losses: &l, computeLosses: false)
            var dot = 0.0
            for k in 0..<d { dot += Double(full.storage[k]) * Double(grads.storage[i * d + k]) }
            let lam = mechanism.stepSize(t)
            let c = mechanism.payments.map { $0.coefficient(t) } ?? 0
            let omega = c > 0 ? mechanism.payments!.edgeWeightSums(iteration: t, exchange: context.exchange)[i] : 0
            return max(1, lam * dot / ((L * lam * lam + 2 * c * omega) * gg))
        }

        /// -f_i(theta_i) of every agent on its held-out rows (nil without them), from the full
        /// [agents x d] matrix `all`.
        func heldOutRewards(_ all: Matrix<Float>) throws -> [Double]? {
            guard let h = context.heldOut else { return nil }
            return try Kernels.glmBatchLosses(
                loss: context.model.loss, l2: Float(context.model.l2), features: h.features, targets: h.targets, parameters: all,
                batches: h.parts
            ).map { -Double($0) }
        }

        /// f_i(theta_i) for every agent on all of its own data (the reward is its negative), from
        /// the full [agents x d] matrix `all` (default: this simulation's, in process).
        func agentLosses(_ all: Matrix<Float>? = nil) throws -> [Double] {
            let x = all ?? theta
            precondition(x.rows == context.parts.count, "agentLosses needs every agent's row")
            let l = try Kernels.glmBatchLosses(
                loss: context.model.loss, l2: Float(context.model.l2), features: context.dataset.features,
                targets: context.targetsFloat, parameters: x, batches: context.parts)
            return l.map(Double.init)
        }

        /// What an evaluation reports of the full matrix `all`: every agent's f_i(theta_i) and the
        /// pooled metrics of the network average. When the agents' rows cover the data once, both
        /// come from one pass over the rows (`glmBatchAndPooledLosses`: the pooled loss summed per
        /// agent, then in agent order); otherwise from `agentLosses` and `networkMetrics`.
        func evaluation(_ all: Matrix<Float>) throws -> (losses: [Double], gap: Double, accuracy: Double?, testAccuracy: Double?) {
            guard context.partsCoverRows else {
                let m = try networkMetrics(all)
                return (try agentLosses(all), m.gap, m.accuracy, m.testAccuracy)
            }
            let model = context.model, mean = Kernels.rowMean(all).map(Double.init)
            let r = try Kernels.glmBatchAndPooledLosses(
                loss: model.loss, l2: Float(model.l2), features: context.dataset.features, targets: context.targetsFloat,
                parameters: all, batches: context.parts, pooled: mean, pooledTargets: context.targets)
            // The pooled objective as `glmObjective` forms it from its loss sum.
            let inv = 1 / Double(context.dataset.rows), norm = mean.reduce(0.0) { $0 + $1 * $1 }
            let value = r.pooledLossSum * inv + 0.5 * model.l2 * norm
            let testAccuracy = try context.test.flatMap { try model.objective(mean, features: $0.0, targets: $0.1).accuracy }
            return (
                r.losses.map(Double.init), value - context.reference.fStar,
                model.loss == .logistic ? Double(r.pooledCorrect) * inv : nil, testAccuracy
            )
        }

        /// Pooled metrics of the network average of the full matrix `all` (default: this one's).
        func networkMetrics(_ all: Matrix<Float>? = nil) throws -> (gap: Double, accuracy: Double?, testAccuracy: Double?) {
            let mean = Kernels.rowMean(all ?? theta).map(Double.init)
            let full = try context.model.objective(mean, features: context.dataset.features, targets: context.targets)
            let testAccuracy = try context.test.flatMap { try context.model.objective(mean, features: $0.0, targets: $0.1).accuracy }
            return (full.value - context.reference.fStar, full.accuracy, testAccuracy)
        }
    }

    /// Whether an evaluation follows iteration count `t` (> 0): every `evaluateEvery`, and the last.
    func evaluates(after t: Int) -> Bool { t % evaluateEvery == 0 || t == iterations }

    /// The iterations an evaluation falls on: 0 and `evaluates(after:)`.
    var evaluationIterations: [Int] { [0] + (1...iterations).filter(evaluates(after:)) }

    /// Every agent training alone on its own data for the run's iterations (`advanceAlone`): per
    /// evaluation (`evaluationIterations`), every agent's reward -f_i(theta_i) on all of its own
    /// data (on its held-out rows when the data give them). On the root; nil on the other
    /// processes (each trains its own agents alone).
    func aloneRewards(_ context: Prepared, clock: inout EvaluationClock) throws -> [[Double]]? {
        try aloneRewards(context, iterations: iterations, evaluateAt: evaluationIterations, clock: &clock)
    }

    /// `aloneRewards` over `T` iterations, evaluated at the iterations in `evaluateAt` (0 included
    /// when listed).
    func aloneRewards(_ context: Prepared, iterations T: Int, evaluateAt: [Int], clock: inout EvaluationClock) throws -> [[Double]]? {
        var sim = Simulation(context: context, mechanism: mechanism, strategic: [], batch: batch, seed: seed)
        var rewards: [[Double]] = []
        let stops = Set(evaluateAt)
        func evaluate() throws {
            guard let all = try context.exchange.gatherRows(sim.theta) else { return }
            try clock.time { rewards.append(try sim.heldOutRewards(all) ?? sim.agentLosses(all).map { -$0 }) }
        }
        if stops.contains(0) { try evaluate() }
        for t in 0..<T {
            try sim.advanceAlone(t)
            if stops.contains(t + 1) { try evaluate() }
        }
        return context.exchange.isRoot ? rewards : nil
    }

    /// One run of the configured experiment under `mech` with the given strategic agents: the
    /// mechanism steps, evaluations every `evaluateEvery` iterations, and checkpoints. With
    /// `companion`, the same trajectory is also evaluated as the payments-off run (valid when no
    /// behaviour reads the payment coefficient: the updates are then the same): its points have
    /// zero payments, zero budget residual and utility -f_i.
    func simulate(
        _ mech: TruthfulDSGD, _ strategicAgents: [Strategic], context: Prepared, companion: Bool = false, audited: Bool = false,
        resume: Checkpoint?, checkpointEvery: Int, save: ((Int, Checkpoint?) throws -> Void)?, clock: inout EvaluationClock,
        tick: (Int) -> Void
    ) throws -> (points: [Point], companion: [Point]?) {
        let n = data.agents, d = context.dataset.features.cols
        var sim = Simulation(context: context, mechanism: mech, strategic: strategicAgents, batch: batch, seed: seed)
        var points: [Point] = [], offPoints: [Point] = []
        let zeros = [Double](repeating: 0, count: n)
        // Evaluations see every agent: the root gathers the rows and ledgers (in process they are
        // all here already) and computes exactly what the in-process run computes.
        func evaluate(_ t: Int) throws {
            let all = try context.exchange.gatherRows(sim.theta), cumulative = try context.exchange.gather(sim.cumulative)
            guard let all, let cumulative else { return }
            try clock.time {
                let metrics = try sim.evaluation(all)
                let dist = try Kernels.rowDistances(all, to: context.reference.theta).reduce(0, +)
                let l = metrics.losses
                let point = Point(
                    iteration: t, optimalityGap: metrics.gap, distance: dist / Double(n),
                    consensusError: Double(Kernels.consensusError(all)), budgetResidual: sim.lastResidual,
                    accuracy: metrics.accuracy, testAccuracy: metrics.testAccuracy,
                    cumulativePayments: cumulative,
                    utilities: (0..<n).map { -l[$0] - cumulative[$0] }, parametersDigest: Kernels.bitDigest(all),
                    heldOutRewards: audited ? try sim.heldOutRewards(all) : nil)
                points.append(point)
                if companion {
                    var off = point
                    off.budgetResidual = 0
                    off.cumulativePayments = zeros
                    off.utilities = (0..<n).map { -l[$0] - zeros[$0] }
                    off.heldOutRewards = nil
                    offPoints.append(off)
                }
            }
        }
        var first = 0
        if let c = resume {
            guard c.parameters.count == n * d, c.cumulativePayments.count == n, c.batchStreams.count == n, c.noiseStreams.count == n else {
                throw AgoraError.io("the checkpoint's state does not fit \(n) agents x \(d) parameters")
            }
            // Every process resumes its own agents (all of them in process, its block under MPI).
            let local = context.exchange.localAgents
            sim.theta = try Matrix(
                rows: local.count, cols: d, storage: Array(c.parameters[(local.lowerBound * d)..<(local.upperBound * d)]))
            sim.cumulative = Array(c.cumulativePayments[local])
            sim.batchRNG = Array(c.batchStreams[local])
            sim.noiseRNG = Array(c.noiseStreams[local])
            sim.lastResidual = c.lastResidual
            points = c.points
            offPoints = c.companionPoints ?? []
            first = c.iteration
        } else {
            try evaluate(0)
        }
        for t in first..<iterations {
            try sim.advance(t)
            if evaluates(after: t + 1) { try evaluate(t + 1) }
            if let save, checkpointEvery > 0, (t + 1) % checkpointEvery == 0 || t + 1 == iterations {
                // The root gathers every agent's state and writes; every process then learns
                // whether to stop (the same decision everywhere: it depends on the iteration only).
                let exchange = context.exchange
                let theta = try exchange.gatherRows(sim.theta), cumulative = try exchange.gather(sim.cumulative)
                let batchWords = try exchange.gather(sim.batchRNG.flatMap(\.state), perAgent: 4)
                let noiseWords = try exchange.gather(sim.noiseRNG.flatMap(\.state), perAgent: 4)
                var checkpoint: Checkpoint? = nil
                if let theta, let cumulative, let batchWords, let noiseWords {
                    func streams(_ w: [UInt64]) throws -> [SeededGenerator] {
                        try (0..<n).map { try SeededGenerator(state: Array(w[(4 * $0)..<(4 * $0 + 4)])) }
                    }
                    checkpoint = Checkpoint(
                        config: self, run: 0, finishedRuns: [], iteration: t + 1, parameters: theta.storage,
                        cumulativePayments: cumulative, batchStreams: try streams(batchWords), noiseStreams: try streams(noiseWords),
                        points: points, companionPoints: companion ? offPoints : nil, lastResidual: sim.lastResidual)
                }
                try save(t + 1, checkpoint)
            }
            tick(t + 1)
        }
        return (points, companion ? offPoints : nil)
    }
}
