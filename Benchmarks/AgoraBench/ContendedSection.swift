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
        let g = try Topology.ring.graph(agents: 256)
        let w = try MixingMatrix(graph: g, scheme: .metropolis)
        let op: MixingOperator<Float> = w.mixingOperator(strategy: .sparse)
        let bigAgents = 1024, bigD = quick ? 10_000 : 50_000
        let gb = try Topology.ring.graph(agents: bigAgents)
        let opBig: MixingOperator<Float> = try MixingMatrix(graph: gb, scheme: .metropolis).mixingOperator(strategy: .sparse)
        let xs: Matrix<Float> = rng.normalMatrix(rows: 256, cols: 100), xb: Matrix<Float> = rng.normalMatrix(rows: bigAgents, cols: bigD)
        var ys = Matrix<Float>(rows: 256, cols: 100), yb = Matrix<Float>(rows: bigAgents, cols: bigD)
        for condition in ["quiet", "contended"] {
            let competitor = condition == "contended" ? try CompetingProcess() : nil
            defer { competitor?.stop() }
            var times: [String: [Int: Double]] = [:]
            for th in Set([1, allThreads]).sorted() {
                pool.threads = th
                if th > 1 {
                    let fj = measure(reps: reps, inner: 2000) { pool.parallelFor(th, bytes: .max) { _ in } }
                    add("contended/\(condition)/fork_join/threads:\(th)", fj, threads: th, iterations: 2000)
                }
                let ts = measure(reps: reps, inner: 200) { try! Kernels.mix(op, xs, into: &ys) }
                add("contended/\(condition)/mix/ring/n:256/d:100/threads:\(th)", ts, threads: th, iterations: 200)
                let tb = measure(reps: reps) { try! Kernels.mix(opBig, xb, into: &yb) }
                add("contended/\(condition)/mix/ring/n:\(bigAgents)/d:\(bigD)/threads:\(th)", tb, threads: th)
                times["small", default: [:]][th] = ts.median
                times["large", default: [:]][th] = tb.median
            }
            pool.threads = allThreads
            if allThreads > 1 {
                for size in ["small", "large"] {
                    let s = times[size]![1]! / times[size]![allThreads]!
                    contendedSpeedups["\(condition)/\(size)"] = s
                    print(String(format: "   %@, %@ mix: %d threads %.2fx the speed of 1%@", condition, size, allThreads, s,
                                 s < 0.95 ? "  (SLOWER with more threads)" : ""))
                }
            }
        }
    }
}
