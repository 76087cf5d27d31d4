import AgoraBenchCore
import AgoraKernels
import AgoraTopology
import Foundation

extension BenchSession {
    /// Threads under contention: fork/join and the sparse mix (three sizes) on 1 and all threads,
    /// first on the quiet machine, then while a competing CPU-bound process (a shell busy loop)
    /// runs, which is the normal case on a shared node or inside a Python host with its own
    /// threads. Reports the speed-up all/1 threads in both conditions (paired over interleaved
    /// rounds); the target is that more threads are never slower.
    func runContended() throws {
        // Three ring mixes by their traffic (one read of X, one write of Y): small (200 KB) and
        // medium (4 MB), where the serial/parallel choice is measured, and large (400 MB, 80 MB with
        // --quick; always parallel).
        let bigAgents = 1024, bigD = quick ? 10_000 : 50_000
        var cases: [(name: String, op: MixingOperator<Float>, x: Matrix<Float>, y: Matrix<Float>, inner: Int)] = []
        for (name, n, d, inner) in [("small", 256, 100, 200), ("medium", 256, 2000, 50), ("large", bigAgents, bigD, 1)] {
            let op: MixingOperator<Float> = try MixingMatrix(graph: try Topology.ring.graph(agents: n), scheme: .metropolis).mixingOperator(
                strategy: .sparse)
            cases.append((name, op, rng.normalMatrix(rows: n, cols: d), Matrix<Float>(rows: n, cols: d), inner))
        }
        let defaultSchedule = pool.schedule
        defer {
            pool.schedule = defaultSchedule
            pool.threads = allThreads
        }
        // Every configuration: the default (measured) schedule under the records' plain names, and
        // the fixed threshold on all threads for the medium case, where the two can differ (on one
        // thread the schedule plays no part: both share the measured one-thread blocks).
        struct Config {
            let caseIndex: Int
            let threads: Int
            let schedule: ThreadPool.Schedule
        }
        var configs: [Config] = []
        for th in Set([1, allThreads]).sorted() {
            for i in cases.indices { configs.append(Config(caseIndex: i, threads: th, schedule: .measured)) }
        }
        if allThreads > 1, let medium = cases.firstIndex(where: { $0.name == "medium" }) {
            configs.append(Config(caseIndex: medium, threads: allThreads, schedule: .threshold))
        }
        // A shared VM's speed drifts by tens of percent within seconds, so the configurations are
        // timed in short blocks, interleaved over rounds (order reversed every other round), and a
        // speed-up is the median over rounds of the paired ratio 1 thread / all threads.
        let rounds = quick ? 3 : 7
        for condition in ["quiet", "contended"] {
            let competitor = condition == "contended" ? try CompetingProcess() : nil
            defer { competitor?.stop() }
            if allThreads > 1 {
                pool.threads = allThreads
                pool.schedule = defaultSchedule
                let fj = measure(reps: reps, inner: 2000) { pool.parallelFor(allThreads, bytes: .max) { _ in } }
                add("contended/\(condition)/fork_join/threads:\(allThreads)", fj, threads: allThreads, iterations: 2000)
            }
            var blocks = [[Double]](repeating: [], count: configs.count)
            // Regions the measured choice ran serially / in parallel per configuration (which way
            // the choice went; probes included).
            var runs = [(serial: Int, parallel: Int)](repeating: (0, 0), count: configs.count)
            for round in 0..<rounds {
                for k in (round % 2 == 0 ? Array(configs.indices) : configs.indices.reversed()) {
                    let cfg = configs[k], c = cases[cfg.caseIndex]
                    pool.schedule = cfg.schedule
                    pool.threads = cfg.threads
                    let before = pool.measuredRuns
                    blocks[k].append(measure(reps: 3, inner: c.inner) { try! Kernels.mix(c.op, c.x, into: &cases[cfg.caseIndex].y) }.median)
                    let after = pool.measuredRuns
                    runs[k].serial += after.serial - before.serial
                    runs[k].parallel += after.parallel - before.parallel
                }
            }
            func label(_ cfg: Config) -> String {
                cases[cfg.caseIndex].name + (cfg.schedule == .measured ? "" : " (threshold schedule)")
            }
            for (k, cfg) in configs.enumerated() {
                let c = cases[cfg.caseIndex], b = blocks[k].sorted()
                let tag = cfg.schedule == .measured ? "" : "/schedule:threshold"
                add(
                    "contended/\(condition)/mix/ring/n:\(c.x.rows)/d:\(c.x.cols)\(tag)/threads:\(cfg.threads)",
                    (b[b.count / 2], b.first!, b.last!), threads: cfg.threads, iterations: c.inner)
            }
            if allThreads > 1 {
                for (kAll, cfg) in configs.enumerated() where cfg.threads == allThreads {
                    guard let k1 = configs.firstIndex(where: { $0.caseIndex == cfg.caseIndex && $0.threads == 1 }) else { continue }
                    let ratios = zip(blocks[k1], blocks[kAll]).map { $0 / $1 }.sorted()
                    let s = ratios[ratios.count / 2]
                    // The targets judge the default schedule; the threshold one is shown beside it.
                    if cfg.schedule == .measured { contendedSpeedups["\(condition)/\(label(cfg))"] = s }
                    let decided = runs[kAll].serial + runs[kAll].parallel
                    let how =
                        decided == 0
                        ? (cfg.schedule == .measured ? "always parallel at this size" : "fixed threshold")
                        : String(format: "%.0f %% of calls ran in parallel", 100 * Double(runs[kAll].parallel) / Double(decided))
                    print(
                        String(
                            format: "   %@, %@ mix: %d threads %.2fx the speed of 1 (rounds: %.2f-%.2f; %@)%@", condition, label(cfg),
                            allThreads, s,
                            ratios.first!, ratios.last!, how, s < 0.95 ? "  (SLOWER with more threads)" : ""))
                }
            }
            let sp = pool.spinPolicy
            print(
                String(
                    format: "   %@: spin budget %.1f us, measured wake-up %@, preemptions seen while spinning so far %d", condition,
                    Double(sp.budget) / 1000, sp.wakeUp.map { String(format: "%.1f us", Double($0) / 1000) } ?? "not yet measured",
                    sp.preemptions))
        }
    }
}
