import AgoraBenchCore
import AgoraExperiments
import AgoraKernels
import AgoraLearning
import AgoraMechanisms
import AgoraTopology
import Foundation

extension BenchSession {
    /// The machine's bounds: copy and triad bandwidth on 1 and all threads, sgemm and dgemm
    /// throughput, the thread pool's fork/join cost. Every later ratio divides by these.
    func runBounds() {
        print("== bounds")
        measureBandwidth()
        measureGEMM()
        measureForkJoin()
    }

    func measureBandwidth() {
        // Copy and triad bandwidth over 256 MiB (64 MiB quick), far beyond the last-level cache.
        let elems = (quick ? 64 : 256) << 20 / 4
        var a = [Float](repeating: 1, count: elems), b = [Float](repeating: 2, count: elems), c = [Float](repeating: 3, count: elems)
        for th in Set([1, allThreads]).sorted() {
            pool.threads = th
            let chunks = 64
            let per = elems / chunks
            let tcopy = a.withUnsafeMutableBufferPointer { ab in
                b.withUnsafeBufferPointer { bb in
                    let ap = SendPtr(ab.baseAddress!), bp = SendPtr(UnsafeMutablePointer(mutating: bb.baseAddress!))
                    return measure(reps: reps) {
                        pool.parallelFor(chunks) { r in
                            for k in r { memcpy(ap.p + k * per, bp.p + k * per, per * 4) }
                        }
                    }
                }
            }
            let bytes = 2.0 * Double(elems) * 4
            copyBound[th] = bytes / tcopy.median / 1e9
            add("bound/copy/threads:\(th)", tcopy, threads: th, bytes: bytes)
            let ttriad = a.withUnsafeMutableBufferPointer { ab in
                b.withUnsafeBufferPointer { bb in
                    c.withUnsafeBufferPointer { cb in
                        let ap = SendPtr(ab.baseAddress!), bp = SendPtr(UnsafeMutablePointer(mutating: bb.baseAddress!))
                        let cp = SendPtr(UnsafeMutablePointer(mutating: cb.baseAddress!))
                        return measure(reps: reps) {
                            pool.parallelFor(chunks) { r in
                                for k in r { triad(ap.p + k * per, bp.p + k * per, cp.p + k * per, per, 0.5) }
                            }
                        }
                    }
                }
            }
            let tbytes = 3.0 * Double(elems) * 4
            triadBound[th] = tbytes / ttriad.median / 1e9
            add("bound/triad/threads:\(th)", ttriad, threads: th, bytes: tbytes)
        }
        a = []
        b = []
        c = []
        pool.threads = allThreads
        measureCacheBandwidth()
    }

    /// Copy bandwidth with the working set (source + destination) at half of each cache level:
    /// L1 and L2 per core (so t threads hold t times as much), L3 shared. Each thread copies its
    /// own part `inner` times inside one parallel region, so fork/join does not count.
    func measureCacheBandwidth() {
        let caches = CPUCaches.current()
        for th in Set([1, allThreads]).sorted() {
            pool.threads = th
            var bounds: [(level: String, capacity: Double, gbs: Double)] = []
            for (name, perCore, shared) in [
                ("L1", CPUCaches.dataBytes(level: 1, in: caches), false), ("L2", CPUCaches.dataBytes(level: 2, in: caches), false),
                ("L3", CPUCaches.dataBytes(level: 3, in: caches), true),
            ] where perCore > 0 {
                let capacity = shared ? perCore : perCore * th
                let per = max(256, capacity / 2 / 2 / th / 4)  // floats per thread per array
                var src = [Float](repeating: 1, count: per * th), dst = [Float](repeating: 0, count: per * th)
                let inner = max(1, (64 << 20) / (per * th * 8))
                let t = src.withUnsafeBufferPointer { sb in
                    dst.withUnsafeMutableBufferPointer { db in
                        let sp = SendPtr(UnsafeMutablePointer(mutating: sb.baseAddress!)), dp = SendPtr(db.baseAddress!)
                        return measure(reps: reps) {
                            pool.parallelFor(th, bytes: .max) { r in
                                for k in r { for _ in 0..<inner { memcpy(dp.p + k * per, sp.p + k * per, per * 4) } }
                            }
                        }
                    }
                }
                let bytes = Double(2 * per * th * 4 * inner)
                let gbs = bytes / t.median / 1e9
                bounds.append((name, Double(capacity), gbs))
                add("bound/copy_in_\(name)/threads:\(th)", t, threads: th, bytes: bytes)
                src = []
                dst = []
            }
            cacheCopyBound[th] = bounds
        }
        pool.threads = allThreads
    }

    func measureGEMM() {
        // GEMM throughput (OpenBLAS's own threads).
        let gn = quick ? 1024 : 2048
        let ga: Matrix<Float> = rng.normalMatrix(rows: gn, cols: gn)
        let gb: Matrix<Float> = rng.normalMatrix(rows: gn, cols: gn)
        var gc = Matrix<Float>(rows: gn, cols: gn)
        let tg = measure(reps: quick ? 3 : 5) { try! BLAS.gemm(ga, gb, into: &gc) }
        sgemmRate = 2.0 * pow(Double(gn), 3) / tg.median / 1e9
        add("bound/sgemm/n:\(gn)", tg, threads: OpenBLAS.threads, flops: 2.0 * pow(Double(gn), 3))
        let da: Matrix<Double> = rng.normalMatrix(rows: gn, cols: gn), db: Matrix<Double> = rng.normalMatrix(rows: gn, cols: gn)
        var dc = Matrix<Double>(rows: gn, cols: gn)
        let tdg = measure(reps: quick ? 3 : 5) { try! BLAS.gemm(da, db, into: &dc) }
        add("bound/dgemm/n:\(gn)", tdg, threads: OpenBLAS.threads, flops: 2.0 * pow(Double(gn), 3))
    }

    func measureForkJoin() {
        // Fork/join overhead of one parallel region (empty body, parallel path forced).
        forkJoin = measure(reps: reps, inner: 20000) { pool.parallelFor(allThreads, bytes: .max) { _ in } }
        add("bound/fork_join/threads:\(allThreads)", forkJoin, threads: allThreads, iterations: 20000)
        let dispatchFJ = measure(reps: reps, inner: 2000) { DispatchQueue.concurrentPerform(iterations: allThreads) { _ in } }
        add("reference/dispatch_concurrentPerform", dispatchFJ, threads: allThreads, iterations: 2000)
    }
}
