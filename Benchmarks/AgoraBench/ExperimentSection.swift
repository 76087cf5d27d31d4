import AgoraBenchCore
import AgoraExperiments
import AgoraKernels
import AgoraMechanisms
import AgoraReports
import AgoraTopology
import Foundation

extension BenchSession {
    /// The DSGD experiment loop as `agora dsgd` runs it (synthetic defaults, exponential graph, an
    /// evaluation every iterations / 100), against its own kernels, from 16 agents up. Per size:
    /// the whole loop per iteration, the loop with evaluations only at its two ends, the kernels
    /// alone at the same shapes (gradients of the mini-batches, then the mechanism step: fused mix
    /// and payments), the set-up (data, graph, the Newton reference), and the process's peak
    /// resident memory so far. Why: users run experiments, not kernels; a loop far above its
    /// kernels, or a cost per agent that grows with the agents, is what this section shows.
    /// Writes plots/experiment-cost-per-agent.svg.
    func runExperimentProfile() throws {
        let sizes = quick ? [16, 256, 1000] : [16, 256, 1000, 10_000, 100_000]
        struct Row {
            let agents: Int
            let total: Double, loop: Double, kernels: Double, setup: Double, peakBytes: Double, dataBytes: Double
        }
        var rows: [Row] = []
        print(
            pad("agents", 10) + pad("loop ms/it", 12) + pad("no-eval ms/it", 15) + pad("kernels ms/it", 15) + pad("loop/kernels", 14)
                + pad("set-up s", 10) + pad("peak MB", 10) + "data MB")
        for n in sizes {
            var e = DSGDExperiment()
            e.data.agents = n
            // The largest size with fewer rows per agent, so that it fits a small machine.
            if n >= 100_000 { e.data.rowsPerAgent = 50 }
            // 200 iterations (an evaluation every 2, as the CLI sets it); 20 at 10^5 agents.
            let iterations = n >= 100_000 ? 20 : 200
            e.iterations = iterations
            e.evaluateEvery = max(1, iterations / 100)
            let start = now()
            let full = try e.run()
            let wall = Double(now() - start) * 1e-9
            let runs = Double(max(1, full.runs.count))
            let setup = max(0, wall - full.secondsPerIteration * Double(iterations) * runs)
            // The loop without evaluations: two runs evaluated only at their ends, I and 2I
            // iterations long; the difference of their loop times is I iterations of the loop alone.
            var quiet = e
            quiet.evaluateEvery = iterations
            let short = try quiet.run().secondsPerIteration * Double(iterations)
            quiet.iterations = 2 * iterations
            quiet.evaluateEvery = 2 * iterations
            let long = try quiet.run().secondsPerIteration * Double(2 * iterations)
            let loop = max(0, long - short) / Double(iterations)
            // The kernels alone at the same shapes: rows x features of the synthetic problem.
            let d = e.data.features, rowsPer = e.data.rowsPerAgent, batch = e.batch
            var g = SeededGenerator(seed: 41)
            let x: Matrix<Float> = g.normalMatrix(rows: n * rowsPer, cols: d)
            let y = (0..<(n * rowsPer)).map { _ in Float(g.uniform() < 0.5 ? -1 : 1) }
            let theta: Matrix<Float> = g.normalMatrix(rows: n, cols: d, scale: 0.05)
            let batches = (0..<n).map { a in (0..<batch).map { _ in a * rowsPer + Int(g.next() % UInt64(rowsPer)) } }
            let ex = try InProcessExchange(topology: e.topology, weights: e.weights, agents: n, seed: e.seed)
            var grads = Matrix<Float>(rows: n, cols: d), next = grads, losses = [Float](repeating: 0, count: n)
            let mech = e.mechanism
            let t = measure(reps: quick ? 3 : reps, inner: n >= 10_000 ? 1 : 5) {
                try! Kernels.glmGradients(
                    loss: .logistic, l2: Float(e.l2), features: .dense(x), targets: y, parameters: theta,
                    batches: batches, gradients: &grads, losses: &losses, computeLosses: false)
                let norms = Kernels.rowSquaredNorms(grads).map(Double.init)
                _ = try! mech.step(iteration: 0, parameters: theta, applied: grads, reports: norms, exchange: ex, into: &next)
            }
            var usage = rusage()
            getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
            let peak = Double(usage.ru_maxrss) * 1024
            // What the run must hold: the Float features and their Double copy (evaluations and the
            // reference solve), and five agents x d Float matrices.
            let dataBytes = Double(n * rowsPer * d) * 12 + 5 * 4 * Double(n * d)
            rows.append(
                Row(
                    agents: n, total: full.secondsPerIteration, loop: loop, kernels: t.median, setup: setup, peakBytes: peak,
                    dataBytes: dataBytes))
            for (part, secs) in [("loop", full.secondsPerIteration), ("loop_without_evaluations", loop), ("kernels", t.median)] {
                add("experiment/dsgd/\(part)/agents:\(n)", (secs, secs, secs), threads: allThreads)
            }
            print(
                pad("\(n)", 10) + pad(String(format: "%.3f", full.secondsPerIteration * 1e3), 12)
                    + pad(String(format: "%.3f", loop * 1e3), 15)
                    + pad(String(format: "%.3f", t.median * 1e3), 15)
                    + pad(String(format: "%.1fx", full.secondsPerIteration / t.median), 14)
                    + pad(String(format: "%.2f", setup), 10) + pad(String(format: "%.0f", peak / 1e6), 10)
                    + String(format: "%.0f", dataBytes / 1e6))
        }
        print(
            "   (peak MB: the process's peak so far, sizes in increasing order; data MB: features, their Double copy and 5 agents x d matrices)"
        )
        func perAgent(_ f: (Row) -> Double) -> [(Double, Double)] {
            rows.map { (log10(Double($0.agents)), f($0) / Double($0.agents) * 1e6) }
        }
        try SVGPlot.write(
            SVGPlot.lines(
                title: "DSGD experiment loop against its kernels: cost per agent per iteration",
                xLabel: "log10(agents)", yLabel: "microseconds per agent",
                series: [
                    .init(name: "whole loop", points: perAgent(\.total)),
                    .init(name: "loop, no evaluations", points: perAgent(\.loop)),
                    .init(name: "kernels alone", points: perAgent(\.kernels), dashed: true),
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
