import AgoraBenchCore
import AgoraExperiments
import AgoraKernels
import AgoraMechanisms
import AgoraReports
import AgoraTopology
import Foundation

extension BenchSession {
    /// The DSGD experiment loop as `agora dsgd` runs it (synthetic defaults, exponential graph, an
    /// evaluation grid `agora dsgd` uses), against its own kernels, from 16 agents up. Per size,
    /// from the run's own timing (`DSGDExperiment.Timing`): the whole loop per simulated
    /// iteration, the iterations without their evaluations, one evaluation (and what it costs in
    /// kernel iterations), the set-up (data, graph, the Newton reference), the process's peak
    /// resident memory so far; the kernels alone at the same shapes (gradients of the mini-batches,
    /// then the mechanism step: fused mix and payments) and, up to 1000 agents, the JAX jit peer of
    /// that bare iteration (answers compared). Why: users run experiments, not kernels; a loop far
    /// above its kernels, or a cost per agent that grows with the agents, is what this section
    /// shows. Writes plots/experiment-cost-per-agent.svg.
    func runExperimentProfile() throws {
        let sizes = quick ? [16, 256, 1000] : [16, 256, 1000, 10_000, 100_000]
        struct Row {
            let agents: Int
            let total: Double, loop: Double, evaluation: Double, kernels: Double, setup: Double, peakBytes: Double, dataBytes: Double
        }
        var rows: [Row] = []
        print(
            pad("agents", 9) + pad("ms/it", 9) + pad("no-eval ms/it", 14) + pad("kernels ms/it", 14) + pad("no-eval/k", 10)
                + pad("eval ms", 9) + pad("eval/k", 8) + pad("set-up s", 9) + pad("peak MB", 9) + "data MB")
        for n in sizes {
            var e = DSGDExperiment()
            e.data.agents = n
            // The largest size with fewer rows per agent, so that it fits a small machine.
            if n >= 100_000 { e.data.rowsPerAgent = 50 }
            // 200 iterations (an evaluation every 10, as the CLI sets it); 20 at 10^5 agents.
            let iterations = n >= 100_000 ? 20 : 200
            e.iterations = iterations
            e.evaluateEvery = DSGDExperiment.defaultEvaluationInterval(iterations: iterations, utility: e.utilityModel)
            let full = try e.run()
            guard let timing = full.timing else { continue }
            let loop = timing.loopSeconds / Double(max(1, timing.simulatedIterations))
            let evaluation = timing.evaluationSeconds / Double(max(1, timing.evaluations))
            // The kernels alone at the same shapes: rows x features of the synthetic problem.
            let d = e.data.features, rowsPer = e.data.rowsPerAgent, batch = e.batch
            var g = SeededGenerator(seed: 41)
            let x: Matrix<Float> = g.normalMatrix(rows: n * rowsPer, cols: d)
            let y = (0..<(n * rowsPer)).map { _ in Float(g.uniform() < 0.5 ? -1 : 1) }
            let theta: Matrix<Float> = g.normalMatrix(rows: n, cols: d, scale: 0.05)
            let batches = (0..<n).map { a in (0..<batch).map { _ in a * rowsPer + Int(g.next() % UInt64(rowsPer)) } }
            let ex = try InProcessExchange(topology: e.topology, weights: e.weights, agents: n, seed: e.seed)
            var grads = Matrix<Float>(rows: n, cols: d), next = grads, losses = [Float](repeating: 0, count: n)
            var pay: [Double] = []
            let mech = e.mechanism
            let t = measure(reps: quick ? 3 : reps, inner: n >= 10_000 ? 1 : 5) {
                try! Kernels.glmGradients(
                    loss: .logistic, l2: Float(e.l2), features: .dense(x), targets: y, parameters: theta,
                    batches: batches, gradients: &grads, losses: &losses, computeLosses: false)
                let norms = Kernels.rowSquaredNorms(grads).map(Double.init)
                pay = try! mech.step(iteration: 0, parameters: theta, applied: grads, reports: norms, exchange: ex, into: &next)
            }
            var usage = rusage()
            getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
            let peak = Double(usage.ru_maxrss) * 1024
            // What the run must hold: the Float features and the labels (8 bytes a row), and five
            // agents x d Float matrices.
            let dataBytes = Double(n * rowsPer * d) * 4 + Double(n * rowsPer) * 8 + 5 * 4 * Double(n * d)
            rows.append(
                Row(
                    agents: n, total: full.secondsPerIteration, loop: loop, evaluation: evaluation, kernels: t.median,
                    setup: timing.setupSeconds, peakBytes: peak, dataBytes: dataBytes))
            for (part, secs) in [
                ("loop", full.secondsPerIteration), ("loop_without_evaluations", loop), ("evaluation", evaluation), ("kernels", t.median),
            ] {
                add("experiment/dsgd/\(part)/agents:\(n)", (secs, secs, secs), threads: allThreads)
            }
            print(
                pad("\(n)", 9) + pad(String(format: "%.3f", full.secondsPerIteration * 1e3), 9)
                    + pad(String(format: "%.3f", loop * 1e3), 14)
                    + pad(String(format: "%.3f", t.median * 1e3), 14)
                    + pad(String(format: "%.1fx", loop / t.median), 10)
                    + pad(String(format: "%.2f", evaluation * 1e3), 9)
                    + pad(String(format: "%.1f", evaluation / t.median), 8)
                    + pad(String(format: "%.2f", timing.setupSeconds), 9) + pad(String(format: "%.0f", peak / 1e6), 9)
                    + String(format: "%.0f", dataBytes / 1e6))
            // The JAX jit peer of the bare iteration (dense W: up to 1000 agents), same inputs and
            // step size (lambda_0 at t = 0), answers compared.
            if n == 1000 {
                let peerDir = try PeerFolder.dsgd("agora-experiment-peer", x: x, y: y, theta: theta, batches: batches, exchange: ex)
                let dir = peerDir.path
                let lr = mech.stepSize(0), c = mech.payments?.coefficient(0) ?? 0
                if let peer = runJAXPeer(
                    "dsgd", [dir, "\(n)", "\(rowsPer)", "\(batch)", "\(d)", "\(lr)", "\(c)", "\(e.l2)", "\(reps)"], timeout: 300),
                    let secs = peer["seconds"] as? Double,
                    let dx = maxAbsDifference(peerDir.read("next_jax.f32", as: Float.self), next.storage),
                    let dp = maxAbsDifference(peerDir.read("pay_jax.f64", as: Double.self), pay)
                {
                    add("experiment/dsgd/jax_bare_iteration/agents:\(n)", (secs, secs, secs), threads: allThreads)
                    print(
                        String(
                            format:
                                "   JAX jit bare iteration at %d agents: %.3f ms; the kernels are %.1fx faster, the loop without evaluations %.1fx, the whole loop %.2fx; max |theta difference| %.2e, max |payment difference| %.2e",
                            n, secs * 1e3, secs / t.median, secs / loop, secs / full.secondsPerIteration, dx, dp))
                }
            }
        }
        print(
            "   (ms/it: the whole loop per simulated iteration; eval: one evaluation, and eval/k in kernel iterations; peak MB: the process's peak so far, sizes in increasing order; data MB: features, labels and 5 agents x d matrices)"
        )
        func perAgent(_ f: (Row) -> Double) -> [(Double, Double)] {
            rows.map { (log10(Double($0.agents)), f($0) / Double($0.agents) * 1e6) }
        }
        try SVGPlot.write(
            SVGPlot.lines(
                title: "DSGD experiment loop against its kernels: cost per agent",
                xLabel: "log10(agents)", yLabel: "microseconds per agent",
                series: [
                    .init(name: "whole loop, per iteration", points: perAgent(\.total)),
                    .init(name: "iteration without evaluations", points: perAgent(\.loop)),
                    .init(name: "one evaluation", points: perAgent(\.evaluation)),
                    .init(name: "kernels alone, per iteration", points: perAgent(\.kernels), dashed: true),
                ], logY: true),
            to: outDir + "/plots/experiment-cost-per-agent.svg")
    }

    /// The two other loops users run, profiled the same way. `agora mix`'s loop (ConsensusExperiment:
    /// the mix step plus per-step consensus metrics) against `Kernels.mix` alone on the same shapes,
    /// from 16 agents up; `agora market run`'s iPFL loop (local training, the server's step, the
    /// evaluation of every client each round) per round and per client, from 10 clients up, to
    /// show whether the cost per client stays flat.
    func runMixAndMarketLoops() throws {
        print(pad("mix: agents", 14) + pad("loop us/step", 14) + pad("kernel us/step", 16) + "loop/kernel")
        for n in quick ? [16, 256, 4096] : [16, 256, 4096, 65_536] {
            var e = ConsensusExperiment()
            e.topology = .exponential
            e.agents = n
            e.dimension = 100
            e.steps = 20
            let loop = try e.run().secondsPerStep
            let w = try Topology.exponential.mixingMatrix(agents: n, scheme: .metropolis, seed: e.seed, iteration: 0)
            let op = w.mixingOperator(Float.self, strategy: e.strategy)
            var g = SeededGenerator(seed: 43)
            let x: Matrix<Float> = g.normalMatrix(rows: n, cols: 100)
            var y = Matrix<Float>(rows: n, cols: 100)
            let t = measure(reps: quick ? 3 : reps, inner: 5) { try! Kernels.mix(op, x, into: &y) }
            add("experiment/mix/loop/agents:\(n)", (loop, loop, loop), threads: allThreads)
            add("experiment/mix/kernel/agents:\(n)", t, threads: allThreads)
            print(
                pad("   \(n)", 14) + pad(String(format: "%.1f", loop * 1e6), 14) + pad(String(format: "%.1f", t.median * 1e6), 16)
                    + String(format: "%.1fx", loop / t.median))
        }
        print(pad("market: clients", 17) + pad("ms/round", 10) + "us per client per round")
        for clients in quick ? [10, 100] : [10, 100, 1000] {
            var e = MarketExperiment()
            e.data.agents = clients
            e.methods = [.ipfl]
            e.rounds = quick ? 5 : 20
            let r = try e.run()
            let perRound = r.methods[0].seconds / Double(e.rounds)
            add("experiment/market/ipfl_round/clients:\(clients)", (perRound, perRound, perRound), threads: allThreads)
            print(
                pad("   \(clients)", 17) + pad(String(format: "%.2f", perRound * 1e3), 10)
                    + String(format: "%.1f", perRound / Double(clients) * 1e6))
        }
    }
}
