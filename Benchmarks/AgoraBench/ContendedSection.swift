import AgoraBenchCore
import AgoraKernels
import AgoraTopology
import Foundation

extension BenchSession {
    /// Threads under contention: fork/join and the sparse mix (a small and a large problem) on 1
    /// and all threads, first on the quiet machine, then while a competing CPU-bound process
    /// (a shell busy loop) runs, which is the normal case on a shared node or inside a Python host
    /// with its own threads. Reports the speed-up all/1 threads in both conditions; the target is
    /// that more threads are never slower.
    func runContended() throws {
        // Three ring mixes by their traffic (one read of X, one write of Y): small (200 KB) and
        // medium (4 MB), where the serial/parallel choice is measured, and large (400 MB, 80 MB with
        // --quick; always parallel).
        let bigAgents = 1024, bigD = quick ? 10_000 : 50_000
        var cases: [(name: String, op: MixingOperator<Float>, x: Matrix<Float>, y: Matrix<Float>, inner: Int)] = []
        for (name, n, d, inner) in [("small", 256, 100, 200), ("medium", 256, 2000, 50), ("large", bigAgents, bigD, 1)] {
            let op: MixingOperator<Float> = try MixingMatrix(graph: try Topology.ring.graph(agents: n), scheme: .metropolis).mixingOperator(strategy: .sparse)
            cases.append((name, op, rng.normalMatrix(rows: n, cols: d), Matrix<Float>(rows: n, cols: d), inner))
        }
        let defaultSchedule = pool.schedule
        defer { pool.schedule = defaultSchedule }
        for condition in ["quiet", "contended"] {
            let competitor = condition == "contended" ? try CompetingProcess() : nil
            defer { competitor?.stop() }
            var times: [String: [Int: Double]] = [:]
            // The default (measured) schedule under the records' plain names, the fixed threshold
            // beside it for the medium case, where the two can differ.
            for schedule in [ThreadPool.Schedule.measured, .threshold] {
                pool.schedule = schedule
                let tag = schedule == .measured ? "" : "/schedule:threshold"
                for th in Set([1, allThreads]).sorted() {
                    pool.threads = th
                    if th > 1 && schedule == .measured {
                        let fj = measure(reps: reps, inner: 2000) { pool.parallelFor(th, bytes: .max) { _ in } }
                        add("contended/\(condition)/fork_join/threads:\(th)", fj, threads: th, iterations: 2000)
                    }
                    for i in cases.indices where schedule == .measured || cases[i].name == "medium" {
                        let c = cases[i]
                        let t = measure(reps: reps, inner: c.inner) { try! Kernels.mix(c.op, c.x, into: &cases[i].y) }
                        add("contended/\(condition)/mix/ring/n:\(c.x.rows)/d:\(c.x.cols)\(tag)/threads:\(th)", t, threads: th, iterations: c.inner)
                        times[c.name + (schedule == .measured ? "" : " (threshold schedule)"), default: [:]][th] = t.median
                    }
                }
            }
            pool.threads = allThreads
            if allThreads > 1 {
                for (size, byThreads) in times.sorted(by: { $0.key < $1.key }) {
                    let s = byThreads[1]! / byThreads[allThreads]!
                    contendedSpeedups["\(condition)/\(size)"] = s
                    print(String(format: "   %@, %@ mix: %d threads %.2fx the speed of 1%@", condition, size, allThreads, s,
                                 s < 0.95 ? "  (SLOWER with more threads)" : ""))
                }
            }
            let sp = pool.spinPolicy
            print(String(format: "   %@: spin budget %.1f us, measured wake-up %@", condition, Double(sp.budget) / 1000,
                         sp.wakeUp.map { String(format: "%.1f us", Double($0) / 1000) } ?? "not yet measured"))
        }
    }
}
