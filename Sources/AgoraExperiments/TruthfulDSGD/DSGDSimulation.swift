import AgoraKernels
import AgoraLearning
import AgoraMechanisms
import AgoraTopology
import Foundation

extension DSGDExperiment {
    /// One run of the configured experiment under `mech` with the given strategic agents: the
    /// mechanism steps, the behaviours applied to what agents use, evaluations every
    /// `evaluateEvery` iterations, and checkpoints.
    func simulate(_ mech: TruthfulDSGD, _ strategicAgents: [Strategic], dataset: Dataset, parts: [[Int]], model: LinearModel,
                  targets y: [Double], test: (FeatureRows<Double>, [Double])?, reference: ReferenceSolver.Result,
                  exchange: InProcessExchange, resume: Checkpoint?, checkpointEvery: Int, save: ((Checkpoint) throws -> Void)?,
                  tick: (Int) -> Void) throws -> [Point] {
        let n = data.agents, d = dataset.features.cols
        let x = dataset.features, yf = y.map(Float.init)
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
            if let bad = cumulative.firstIndex(where: { !$0.isFinite }) {
                throw AgoraError.numerical("non-finite payment ledger of agent \(bad) at iteration \(t): lower the payment coefficient (payments.coefficient.initial) or the step size")
            }
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
