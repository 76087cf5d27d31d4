import AgoraBenchCore
import AgoraExperiments
import AgoraKernels
import AgoraLearning
import AgoraMechanisms
import AgoraReports
import AgoraTopology
import Foundation

/// Times `body` adaptively: one warm-up call; long calls (over 0.2 s) are timed once more, short ones
/// `reps` times with enough inner calls to last about 5 ms.
func measureAdaptive(reps: Int, _ body: () -> Void) -> (median: Double, min: Double, max: Double) {
    let s = now()
    body()
    let first = Double(now() - s) * 1e-9
    if first > 0.2 { return measure(reps: 1, body) }
    let inner = max(1, min(1000, Int(0.005 / max(first, 1e-7))))
    return measure(reps: reps, inner: inner, body)
}

/// The scaling sweep of performance.md: the fused mix-and-update kernel over agents x model sizes x
/// topology families x thread counts (under a memory cap), batched gradients and the Gram matrix over
/// sizes, and whole iterations of each mechanism; then plots of time and GB/s against agents and
/// model size, and of parallel efficiency.
extension BenchSession {
    /// The scaling sweep (agents x model size x topology x threads; mechanisms), with plots.
    func runSweep() throws {
        print("")
        print("== scaling sweep (agents x model size x topology x threads; mechanisms)")
        try Sweep(session: self).run()
    }
}

struct Sweep {
    let session: BenchSession
    var quick: Bool { session.quick }
    var reps: Int { quick ? 3 : 5 }
    var copyBound: [Int: Double] { session.copyBound }
    var sgemmRate: Double { session.sgemmRate }
    var outDir: String { session.outDir }
    var allThreads: Int { session.allThreads }

    func run() throws {
        let plan = SweepPlan(quick: quick, maxThreads: allThreads)
        var rng = SeededGenerator(seed: 41)
        let mixTime = try runMix(plan, &rng)
        runGradients(plan, &rng)
        runGram(&rng)
        try runMechanisms(&rng)
        try plots(plan: plan, mixTime: mixTime)
    }

    /// The fused mix-and-update over the plan; time[topology][threads][agents][dimension].
    func runMix(_ plan: SweepPlan, _ rng: inout SeededGenerator) throws -> [String: [Int: [Int: [Int: Double]]]] {
        let pool = ThreadPool.shared
        // time[topology][threads][agents][dimension]
        var mixTime: [String: [Int: [Int: [Int: Double]]]] = [:]
        if !plan.skipped.isEmpty {
            print(
                "   skipped by the \(plan.capBytes >> 20) MiB cap on 3 [agents x d] Float matrices: "
                    + plan.skipped.map { "\($0.agents)x\($0.dimension)" }.joined(separator: ", "))
        }
        var operators: [String: MixingOperator<Float>] = [:]
        var lastShape = (0, 0)
        var x = Matrix<Float>(rows: 0, cols: 0), m = x, y = x
        for p in plan.points {
            // Threads do not change GEMM (OpenBLAS has its own), so dense runs once, on all threads.
            let key = "\(p.topology)/\(p.agents)"
            if operators[key] == nil {
                let topo = try Topology(parsing: p.topology)
                let w = try MixingMatrix(graph: try topo.graph(agents: p.agents, seed: 1), scheme: .metropolis)
                operators[key] = w.mixingOperator(Float.self, strategy: .auto)
            }
            let op = operators[key]!
            if op.usesGEMM && p.threads != allThreads { continue }
            if lastShape != (p.agents, p.dimension) {
                x = rng.normalMatrix(rows: p.agents, cols: p.dimension)
                m = rng.normalMatrix(rows: p.agents, cols: p.dimension)
                y = Matrix(rows: p.agents, cols: p.dimension)
                lastShape = (p.agents, p.dimension)
            }
            let lr = [Float](repeating: 0.01, count: p.agents)
            pool.threads = p.threads
            let t = measureAdaptive(reps: reps) { try! Kernels.mixStep(op, x, stepSizes: lr, directions: m, into: &y) }
            pool.threads = allThreads
            let bytes = 3.0 * Double(p.agents * p.dimension) * 4
            session.add(
                "sweep/mix_step/\(p.topology)/\(op.usesGEMM ? "gemm" : "sparse")/n:\(p.agents)/d:\(p.dimension)/threads:\(p.threads)",
                t, threads: p.threads, bytes: bytes, flops: op.usesGEMM ? 2.0 * Double(p.agents * p.agents) * Double(p.dimension) : nil,
                bound: op.usesGEMM ? ("sgemm", sgemmRate) : session.copyBound(workingSet: bytes, threads: p.threads))
            mixTime[p.topology, default: [:]][p.threads, default: [:]][p.agents, default: [:]][p.dimension] = t.median
        }
        return mixTime
    }

    /// Batched logistic gradients: agents x features, 64 rows per agent, batch 32.
    func runGradients(_ plan: SweepPlan, _ rng: inout SeededGenerator) {
        for n in (quick ? [16, 256] : [16, 256, 1024]) {
            for d in (quick ? [100, 1000] : [100, 1_000, 10_000]) where n * 64 * d * 4 <= plan.capBytes {
                let feats: Matrix<Float> = rng.normalMatrix(rows: n * 64, cols: d)
                let targets = (0..<(n * 64)).map { _ in Float(rng.uniform() < 0.5 ? -1 : 1) }
                let theta: Matrix<Float> = rng.normalMatrix(rows: n, cols: d, scale: 0.05)
                let batches = (0..<n).map { a in (0..<32).map { _ in a * 64 + Int(rng.next() % 64) } }
                var g = Matrix<Float>(rows: n, cols: d), l = [Float](repeating: 0, count: n)
                let t = measureAdaptive(reps: reps) {
                    try! Kernels.glmGradients(
                        loss: .logistic, l2: 1e-4, features: .dense(feats), targets: targets, parameters: theta,
                        batches: batches, gradients: &g, losses: &l, computeLosses: false)
                }
                let bytes = Double(n * 32 * d * 4)
                session.add(
                    "sweep/glm_grad/n:\(n)/d:\(d)/threads:\(allThreads)", t, threads: allThreads, bytes: bytes,
                    bound: session.copyBound(workingSet: bytes, threads: allThreads))
            }
        }
    }

    /// Gram matrices (syrk).
    func runGram(_ rng: inout SeededGenerator) {
        for n in (quick ? [256] : [256, 1024]) {
            for d in (quick ? [10_000] : [10_000, 100_000]) {
                let u: Matrix<Float> = rng.normalMatrix(rows: n, cols: d)
                let t = measureAdaptive(reps: reps) { _ = Kernels.gram(u) }
                session.add(
                    "sweep/gram/n:\(n)/d:\(d)", t, threads: OpenBLAS.threads, flops: Double(n * n) * Double(d), bound: ("sgemm", sgemmRate))
            }
        }
    }

    /// Whole mechanism iterations: a DSGD iteration and a market step over sizes.
    func runMechanisms(_ rng: inout SeededGenerator) throws {
        for n in (quick ? [16, 256] : [16, 256, 1024]) {
            for d in (quick ? [100] : [100, 1_000]) {
                let rows = n * 64
                let feats: Matrix<Float> = rng.normalMatrix(rows: rows, cols: d)
                let targets = (0..<rows).map { _ in Float(rng.uniform() < 0.5 ? -1 : 1) }
                let theta: Matrix<Float> = rng.normalMatrix(rows: n, cols: d, scale: 0.05)
                let batches = (0..<n).map { a in (0..<32).map { _ in a * 64 + Int(rng.next() % 64) } }
                let ex = try InProcessExchange(topology: .exponential, weights: .metropolis, agents: n, seed: 1)
                let mech = TruthfulDSGD(
                    stepSize: PowerSchedule(initial: 0.1, exponent: 0.6),
                    payments: PaymentRule(coefficient: PowerSchedule(initial: 1e-3, exponent: 0.1)))
                var g = Matrix<Float>(rows: n, cols: d), next = g, l = [Float](repeating: 0, count: n)
                let t = measureAdaptive(reps: reps) {
                    try! Kernels.glmGradients(
                        loss: .logistic, l2: 1e-4, features: .dense(feats), targets: targets, parameters: theta,
                        batches: batches, gradients: &g, losses: &l, computeLosses: false)
                    _ = try! mech.step(
                        iteration: 0, parameters: theta, applied: g, reports: Kernels.rowSquaredNorms(g).map(Double.init),
                        exchange: ex, into: &next)
                }
                session.add("sweep/dsgd_iteration/exponential/n:\(n)/d:\(d)", t, threads: allThreads)
            }
        }
        for mClients in (quick ? [100] : [100, 1000]) {
            for p in (quick ? [1_000] : [1_000, 10_000]) {
                let theta: Matrix<Float> = rng.normalMatrix(rows: mClients, cols: p)
                let econ = (0..<mClients).map { _ in
                    ClientEconomics(dataSize: (1000 + 9000 * rng.uniform()).rounded(), cost: 1, eagerness: 5e5)
                }
                var ws = ModelMarket.Workspace<Float>()
                let origin = [Float](repeating: 0, count: p)
                let t = measureAdaptive(reps: reps) {
                    _ = try! ModelMarket().step(uploaded: theta, origin: origin, reports: econ, workspace: &ws)
                }
                session.add(
                    "sweep/market_step/m:\(mClients)/P:\(p)", t, threads: allThreads, flops: Double(mClients * mClients) * Double(p),
                    bound: ("sgemm (Gram flops)", sgemmRate))
            }
        }
    }

    /// Time against agents, GB/s against model size, parallel efficiency, GB/s by topology.
    func plots(plan: SweepPlan, mixTime: [String: [Int: [Int: [Int: Double]]]]) throws {
        let all = plan.threads.last!
        let focus = mixTime["exponential"] != nil ? "exponential" : plan.topologies[0]
        guard let byThreads = mixTime[focus], let top = byThreads[all] else { return }
        func gbs(_ n: Int, _ d: Int, _ secs: Double) -> Double { 3.0 * Double(n * d) * 4 / secs / 1e9 }
        let dir = outDir + "/plots"
        var series: [SVGPlot.Series] = plan.dimensions.map { d in
            .init(name: "d = \(d)", points: plan.agents.compactMap { n in top[n]?[d].map { (log10(Double(n)), $0 * 1e6) } })
        }.filter { !$0.points.isEmpty }
        try SVGPlot.write(
            SVGPlot.lines(
                title: "Fused mix + update, \(focus) graph, \(all) threads: time per step",
                xLabel: "log10(agents)", yLabel: "microseconds", series: series, logY: true),
            to: dir + "/sweep-time-vs-agents.svg")
        series = plan.agents.map { n in
            .init(name: "\(n) agents", points: plan.dimensions.compactMap { d in top[n]?[d].map { (log10(Double(d)), gbs(n, d, $0)) } })
        }.filter { !$0.points.isEmpty }
        if let c = copyBound[all] {
            series.append(.init(name: "copy bound", points: plan.dimensions.map { (log10(Double($0)), c) }, dashed: true))
        }
        try SVGPlot.write(
            SVGPlot.lines(
                title: "Fused mix + update, \(focus) graph, \(all) threads: bandwidth",
                xLabel: "log10(model size d)", yLabel: "GB/s (3 matrices streamed)", series: series),
            to: dir + "/sweep-gbs-vs-dimension.svg")
        if let one = byThreads[1], all > 1 {
            series = plan.agents.map { n in
                .init(
                    name: "\(n) agents",
                    points: plan.dimensions.compactMap { d in
                        guard let a = one[n]?[d], let b = top[n]?[d] else { return nil }
                        return (log10(Double(d)), a / b)
                    })
            }.filter { !$0.points.isEmpty }
            try SVGPlot.write(
                SVGPlot.lines(
                    title: "Parallel speed-up, \(all) threads over 1 (\(focus) graph)",
                    xLabel: "log10(model size d)", yLabel: "t(1 thread) / t(\(all) threads)", series: series),
                to: dir + "/sweep-parallel-efficiency.svg")
        }
        let n = plan.agents.contains(1024) ? 1024 : plan.agents.last!
        series = plan.topologies.compactMap { topo in
            guard let t = mixTime[topo]?[all]?[n] else { return nil }
            return .init(name: topo, points: plan.dimensions.compactMap { d in t[d].map { (log10(Double(d)), gbs(n, d, $0)) } })
        }
        try SVGPlot.write(
            SVGPlot.lines(
                title: "Fused mix + update by topology, \(n) agents, \(all) threads",
                xLabel: "log10(model size d)", yLabel: "GB/s (3 matrices streamed)", series: series),
            to: dir + "/sweep-gbs-by-topology.svg")
        print(
            "   plots: \(dir)/sweep-time-vs-agents.svg, sweep-gbs-vs-dimension.svg, sweep-parallel-efficiency.svg, sweep-gbs-by-topology.svg"
        )
    }
}
