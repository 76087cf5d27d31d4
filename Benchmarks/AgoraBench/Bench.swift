import AgoraBenchCore
import AgoraExperiments
import AgoraKernels
import AgoraLearning
import AgoraMechanisms
import AgoraReports
import AgoraTopology
import Foundation

// AgoraBench: measures the machine's bounds first (copy/triad bandwidth, sgemm throughput, fork/join
// cost), then the kernels, and reports each kernel against its bound as a same-run ratio.
// Output: a table on stdout, JSON in the google-benchmark format and CSV under bench-results/.

func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

/// Median, min and max seconds of `reps` timed runs of `body` (after one warm-up run).
func measure(reps: Int, inner: Int = 1, _ body: () -> Void) -> (median: Double, min: Double, max: Double) {
    body()
    var t: [Double] = []
    for _ in 0..<reps {
        let s = now()
        for _ in 0..<inner { body() }
        t.append(Double(now() - s) * 1e-9 / Double(inner))
    }
    t.sort()
    return (t[t.count / 2], t.first!, t.last!)
}

func shell(_ cmd: String) -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/sh")
    p.arguments = ["-c", cmd]
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = FileHandle.nullDevice
    do { try p.run() } catch { return "" }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}

@main
struct AgoraBench {
    static func main() throws {
        let args = CommandLine.arguments
        let quick = args.contains("--quick")
        let outDir = args.firstIndex(of: "--out").map { args[$0 + 1] } ?? "bench-results"
        let pool = ThreadPool.shared
        let allThreads = pool.maxThreads
        var records: [Record] = []
        let reps = quick ? 5 : 11
        // --only kernels,glm,dsgd,market,contracts,sweep runs those sections (the bounds always run).
        let only = args.firstIndex(of: "--only").flatMap { $0 + 1 < args.count ? Set(args[$0 + 1].split(separator: ",").map(String.init)) : nil }
        func want(_ section: String) -> Bool { only?.contains(section) ?? true }

        func add(_ name: String, _ t: (median: Double, min: Double, max: Double), threads: Int,
                 bytes: Double? = nil, flops: Double? = nil, bound: (String, Double)? = nil, iterations: Int = 1) {
            var r = Record(name: name, repetitions: reps, iterations: iterations, medianSeconds: t.median,
                           minSeconds: t.min, maxSeconds: t.max, threads: threads)
            if let bytes { r.bytes = bytes; r.gb_per_s = bytes / t.median / 1e9 }
            if let flops { r.flops = flops; r.gflop_per_s = flops / t.median / 1e9 }
            if let (bn, bv) = bound {
                r.bound = bn
                r.fraction_of_bound = (r.gb_per_s ?? r.gflop_per_s ?? 0) / bv
            }
            records.append(r)
            var line = pad(name, 44) + pad(String(format: "%10.1f us", t.median * 1e6), 14)
            if let g = r.gb_per_s { line += String(format: "%8.1f GB/s", g) }
            if let g = r.gflop_per_s { line += String(format: "%8.1f GFLOP/s", g) }
            if let f = r.fraction_of_bound { line += String(format: "   %.2f of %@", f, r.bound!) }
            print(line)
        }

        print("OpenBLAS: \(OpenBLAS.config) core \(OpenBLAS.coreName); Agora threads \(allThreads)")
        let env = ProcessInfo.processInfo.environment.filter { $0.key.hasPrefix("OPENBLAS_") }
        if !env.isEmpty { print("OPENBLAS environment: \(env.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: " "))") }
        print("")
        print("== bounds")

        // Copy and triad bandwidth over 256 MiB (64 MiB quick), far beyond the last-level cache.
        let elems = (quick ? 64 : 256) << 20 / 4
        var a = [Float](repeating: 1, count: elems), b = [Float](repeating: 2, count: elems), c = [Float](repeating: 3, count: elems)
        var copyBound = [Int: Double]()
        var triadBound = [Int: Double]()
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
        a = []; b = []; c = []
        pool.threads = allThreads

        // GEMM throughput (OpenBLAS's own threads).
        let gn = quick ? 1024 : 2048
        var rng = SeededGenerator(seed: 7)
        let ga: Matrix<Float> = rng.normalMatrix(rows: gn, cols: gn)
        let gb: Matrix<Float> = rng.normalMatrix(rows: gn, cols: gn)
        var gc = Matrix<Float>(rows: gn, cols: gn)
        let tg = measure(reps: quick ? 3 : 5) { try! BLAS.gemm(ga, gb, into: &gc) }
        let sgemmRate = 2.0 * pow(Double(gn), 3) / tg.median / 1e9
        add("bound/sgemm/n:\(gn)", tg, threads: OpenBLAS.threads, flops: 2.0 * pow(Double(gn), 3))
        let da: Matrix<Double> = rng.normalMatrix(rows: gn, cols: gn), db: Matrix<Double> = rng.normalMatrix(rows: gn, cols: gn)
        var dc = Matrix<Double>(rows: gn, cols: gn)
        let tdg = measure(reps: quick ? 3 : 5) { try! BLAS.gemm(da, db, into: &dc) }
        add("bound/dgemm/n:\(gn)", tdg, threads: OpenBLAS.threads, flops: 2.0 * pow(Double(gn), 3))

        // Fork/join overhead of one parallel region (empty body, parallel path forced).
        let fj = measure(reps: reps, inner: 20000) { pool.parallelFor(allThreads, bytes: .max) { _ in } }
        add("bound/fork_join/threads:\(allThreads)", fj, threads: allThreads, iterations: 20000)
        let dispatchFJ = measure(reps: reps, inner: 2000) { DispatchQueue.concurrentPerform(iterations: allThreads) { _ in } }
        add("reference/dispatch_concurrentPerform", dispatchFJ, threads: allThreads, iterations: 2000)

        let n = 1024
        var mixResults: [String: Double] = [:]
        var mixPeerRatios: (scipy: Double, numpy: Double)? = nil
        if want("kernels") {
        print("")
        print("== kernels")
        // Sparse neighbour mix: torus (4 neighbours), n = 1024, d = 1e3 and 1e5.
        let g = try Topology.torus(rows: 32, cols: 32).graph(agents: n)
        let w = try MixingMatrix(graph: g, scheme: .metropolis)
        let sparseOp: MixingOperator<Float> = w.mixingOperator(strategy: .sparse)
        let denseOp: MixingOperator<Float> = w.mixingOperator(strategy: .dense)
        for d in (quick ? [1000, 20000] : [1000, 100_000]) {
            let x: Matrix<Float> = rng.normalMatrix(rows: n, cols: d)
            var y = Matrix<Float>(rows: n, cols: d)
            let bytes = 2.0 * Double(n * d) * 4  // compulsory traffic: read X once, write Y once
            for th in Set([1, allThreads]).sorted() {
                pool.threads = th
                let t = measure(reps: reps, inner: d <= 1000 ? 50 : 1) { try! Kernels.mix(sparseOp, x, into: &y) }
                mixResults["sparse/\(d)/\(th)"] = t.median
                add("mix/sparse/torus/n:\(n)/d:\(d)/threads:\(th)", t, threads: th, bytes: bytes,
                    bound: ("copy", copyBound[th]!))
            }
            pool.threads = allThreads
            if d <= 1000 {
                var yd = Matrix<Float>(rows: n, cols: d)
                let t = measure(reps: quick ? 3 : 5) { try! Kernels.mix(denseOp, x, into: &yd) }
                mixResults["dense/\(d)"] = t.median
                add("mix/dense_gemm/torus/n:\(n)/d:\(d)", t, threads: OpenBLAS.threads, flops: 2.0 * Double(n * n * d),
                    bound: ("sgemm", sgemmRate))
                let diff = y.maxAbsDifference(yd)
                print("   sparse vs dense max |difference| = \(diff)")
            }
            // Fused update theta <- W theta - lr m.
            let m: Matrix<Float> = rng.normalMatrix(rows: n, cols: d)
            let lr = [Float](repeating: 0.01, count: n)
            let t = measure(reps: reps, inner: d <= 1000 ? 50 : 1) {
                try! Kernels.mixStep(sparseOp, x, stepSizes: lr, directions: m, into: &y)
            }
            add("mix_step/sparse/torus/n:\(n)/d:\(d)/threads:\(allThreads)", t, threads: allThreads,
                bytes: 3.0 * Double(n * d) * 4, bound: ("copy", copyBound[allThreads]!))
        }
        // Peers for the d = 1e3 mix: scipy CSR and a numpy gather, identical inputs, answers compared.
        do {
            let d = 1000
            let x: Matrix<Float> = rng.normalMatrix(rows: n, cols: d)
            var y = Matrix<Float>(rows: n, cols: d)
            try Kernels.mix(sparseOp, x, into: &y)
            let peerDir = try PeerFolder("agora-mix-peer"), dir = peerDir.path
            try peerDir.write(x.storage, "x.f32"); try peerDir.write(sparseOp.csr.rowStart.map { Int64($0) }, "rowstart.i64")
            try peerDir.write(sparseOp.csr.columns, "cols.i32"); try peerDir.write(sparseOp.csr.values, "vals.f32")
            if let peer = runPeer(["mix_scipy.py", dir, "\(n)", "\(d)", "\(reps)"], timeout: 120),
               let ts = peer["scipy_seconds"] as? Double, let tn = peer["numpy_seconds"] as? Double,
               let es = maxAbsDifference(peerDir.read("y_scipy.f32", as: Float.self), y.storage),
               let en = maxAbsDifference(peerDir.read("y_numpy.f32", as: Float.self), y.storage) {
                let ours = mixResults["sparse/\(d)/\(allThreads)"] ?? 0
                mixPeerRatios = (ts / ours, tn / ours)
                print(String(format: "   peers at d = 1e3: scipy CSR %.1f us (Agora %.1fx faster), numpy gather %.1f us (%.1fx); max |difference| %.1e and %.1e",
                             ts * 1e6, ts / ours, tn * 1e6, tn / ours, es, en))
            } else {
                print("   mix peers gave no answer (needs python3 with numpy and scipy)")
            }
        }
        // Gram matrix and cosine distances (syrk).
        let gx: Matrix<Float> = rng.normalMatrix(rows: quick ? 256 : 1000, cols: quick ? 10_000 : 100_000)
        let tgram = measure(reps: quick ? 3 : 5) { _ = Kernels.gram(gx) }
        add("gram/syrk/n:\(gx.rows)/d:\(gx.cols)", tgram, threads: OpenBLAS.threads,
            flops: Double(gx.rows * gx.rows) * Double(gx.cols), bound: ("sgemm", sgemmRate))
        let tnorm = measure(reps: reps) { _ = Kernels.rowSquaredNorms(gx) }
        add("row_norms/n:\(gx.rows)/d:\(gx.cols)", tnorm, threads: allThreads,
            bytes: Double(gx.storage.count) * 4, bound: ("copy", copyBound[allThreads]!))

        }
        print("")
        print("== batched logistic-regression gradients (dense), against numpy on identical inputs")
        var glmRatio: Double? = nil
        if want("glm") {
        do {
            let agents = 256, batch = 64, d = quick ? 256 : 1000
            var g = SeededGenerator(seed: 17)
            let x: Matrix<Float> = g.normalMatrix(rows: agents * batch, cols: d)
            let y = (0..<(agents * batch)).map { _ in Float(g.uniform() < 0.5 ? -1 : 1) }
            let theta: Matrix<Float> = g.normalMatrix(rows: agents, cols: d, scale: 0.05)
            let batches = (0..<agents).map { a in Array((a * batch)..<((a + 1) * batch)) }
            var grads = Matrix<Float>(rows: agents, cols: d), losses = [Float](repeating: 0, count: agents)
            let t = measure(reps: reps) {
                try! Kernels.glmGradients(loss: .logistic, l2: 1e-4, features: .dense(x), targets: y, parameters: theta,
                                          batches: batches, gradients: &grads, losses: &losses)
            }
            let bytes = Double(agents * batch * d + 2 * agents * d) * 4
            add("glm_grad/logistic/dense/agents:\(agents)/batch:\(batch)/d:\(d)/threads:\(allThreads)", t, threads: allThreads,
                bytes: bytes, bound: ("copy", copyBound[allThreads]!))
            let peerDir = try PeerFolder("agora-glm-peer"), dir = peerDir.path
            try peerDir.write(x.storage, "x.f32"); try peerDir.write(y, "y.f32"); try peerDir.write(theta.storage, "theta.f32")
            if let peer = runPeer(["glm_numpy.py", dir, "\(agents)", "\(batch)", "\(d)", "1e-4", "\(reps)"], timeout: 120),
               let secs = peer["seconds"] as? Double,
               let ng = peerDir.read("grad_numpy.f32", as: Float.self), let diff = maxAbsDifference(ng, grads.storage) {
                let scale = ng.map(abs).max() ?? 0
                glmRatio = secs / t.median
                print(String(format: "   numpy %@: %.1f us; Agora is %.1fx faster; max |difference| %.2e (max |g| %.2e)",
                             (peer["numpy"] as? String) ?? "?", secs * 1e6, glmRatio!, diff, scale))
            } else {
                print("   numpy peer gave no answer (needs python3 with numpy)")
            }
        } catch {
            print("   skipped: \(error)")
        }

        }
        print("")
        print("== one truthful-DSGD iteration (gradients + mix + payments), against numpy/scipy")
        var dsgdRatio: Double? = nil
        if want("dsgd") {
        do {
            let agents = 256, rowsPer = 64, batch = 32, d = quick ? 100 : 500
            var g = SeededGenerator(seed: 23)
            let x: Matrix<Float> = g.normalMatrix(rows: agents * rowsPer, cols: d)
            let y = (0..<(agents * rowsPer)).map { _ in Float(g.uniform() < 0.5 ? -1 : 1) }
            let theta: Matrix<Float> = g.normalMatrix(rows: agents, cols: d, scale: 0.05)
            let batches = (0..<agents).map { a in (0..<batch).map { _ in a * rowsPer + Int(g.next() % UInt64(rowsPer)) } }
            let ex = try InProcessExchange(topology: .exponential, weights: .metropolis, agents: agents, seed: 1)
            let mech = TruthfulDSGD(stepSize: PowerSchedule(initial: 0.1, exponent: 0.6),
                                    payments: PaymentRule(coefficient: PowerSchedule(initial: 1e-3, exponent: 0.1)))
            var grads = Matrix<Float>(rows: agents, cols: d), next = grads, losses = [Float](repeating: 0, count: agents)
            var pay: [Double] = []
            let t = measure(reps: reps, inner: 5) {
                try! Kernels.glmGradients(loss: .logistic, l2: 1e-4, features: .dense(x), targets: y, parameters: theta,
                                          batches: batches, gradients: &grads, losses: &losses, computeLosses: false)
                let norms = Kernels.rowSquaredNorms(grads).map(Double.init)
                pay = try! mech.step(iteration: 0, parameters: theta, applied: grads, reports: norms, exchange: ex, into: &next)
            }
            add("dsgd_iteration/logistic/agents:\(agents)/batch:\(batch)/d:\(d)/exponential", t, threads: allThreads)
            let tg = measure(reps: reps, inner: 5) {
                try! Kernels.glmGradients(loss: .logistic, l2: 1e-4, features: .dense(x), targets: y, parameters: theta,
                                          batches: batches, gradients: &grads, losses: &losses, computeLosses: false)
            }
            let normsOnce = Kernels.rowSquaredNorms(grads).map(Double.init)
            let tm = measure(reps: reps, inner: 5) {
                pay = try! mech.step(iteration: 0, parameters: theta, applied: grads, reports: normsOnce, exchange: ex, into: &next)
            }
            // Gradient traffic: every sampled row is read once from memory (the second pass hits cache).
            let gradBytes = Double(agents * batch * d * 4)
            add("dsgd_iteration/gradients_only/d:\(d)", tg, threads: allThreads, bytes: gradBytes, bound: ("copy", copyBound[allThreads]!))
            add("dsgd_iteration/mix_and_payments_only/d:\(d)", tm, threads: allThreads)
            let peerDir = try PeerFolder("agora-dsgd-peer"), dir = peerDir.path
            try peerDir.write(x.storage, "x.f32"); try peerDir.write(y, "y.f32"); try peerDir.write(theta.storage, "theta.f32")
            try peerDir.write(batches.flatMap { $0.map { Int32($0) } }, "batch.i32")
            try peerDir.write(ex.mixingMatrix(iteration: 0).csr.dense().storage, "w.f64")
            if let peer = runPeer(["dsgd_numpy.py", dir, "\(agents)", "\(rowsPer)", "\(batch)", "\(d)", "0.1", "1e-3", "1e-4", "\(reps)"], timeout: 120),
               let secs = peer["seconds"] as? Double,
               let dx = maxAbsDifference(peerDir.read("next.f32", as: Float.self), next.storage),
               let pp = peerDir.read("pay.f64", as: Double.self), let dp = maxAbsDifference(pp, pay) {
                let sp = pp.map(abs).max() ?? 0
                dsgdRatio = secs / t.median
                print(String(format: "   numpy/scipy: %.1f us; Agora is %.1fx faster; max |theta difference| %.2e, max |payment difference| %.2e (max |payment| %.2e)",
                             secs * 1e6, dsgdRatio!, dx, dp, sp))
            } else {
                print("   numpy peer gave no answer (needs python3 with numpy and scipy)")
            }
        } catch {
            print("   skipped: \(error)")
        }

        }
        print("")
        print("== one iPFL market step (Gram distances + graph + payments + prox centres), against numpy")
        var marketRatio: Double? = nil
        if want("market") {
        do {
            let m = 1000, p = quick ? 10_000 : 100_000, clusters = 20
            var g = SeededGenerator(seed: 31)
            let origin = (0..<p).map { _ in Float(0.01 * g.normal()) }
            // Clustered updates: u_i = centre of its cluster + noise, so the graph has structure.
            let centresOfClusters: Matrix<Float> = g.normalMatrix(rows: clusters, cols: p, scale: 1)
            var theta = Matrix<Float>(rows: m, cols: p)
            theta.storage.withUnsafeMutableBufferPointer { tb in
                for i in 0..<m {
                    let k = i % clusters
                    for q in 0..<p { tb[i * p + q] = origin[q] + centresOfClusters.storage[k * p + q] + Float(0.7 * g.normal()) }
                }
            }
            let econ = (0..<m).map { _ in ClientEconomics(dataSize: (1000 + 9000 * g.uniform()).rounded(), cost: 1, eagerness: 5e5) }
            let market = ModelMarket(lambda: 2, eta: 5)
            // Steady state, as in a training loop: the workspace's buffers (U, Gram, centres) are reused.
            var ws = ModelMarket.Workspace<Float>()
            var t0 = now()
            var cleared = try market.step(uploaded: theta, origin: origin, reports: econ, workspace: &ws).outcome
            let cold = Double(now() - t0) * 1e-9
            let t = measure(reps: quick ? 3 : 5) { cleared = try! market.step(uploaded: theta, origin: origin, reports: econ, workspace: &ws).outcome }
            // Bound: the Gram matrix, m^2 P multiply-adds (syrk), at the measured sgemm rate.
            let gramFlops = Double(m) * Double(m + 1) * Double(p)
            add("market_step/clients:\(m)/params:\(p)", t, threads: allThreads, flops: gramFlops, bound: ("sgemm (Gram flops)", sgemmRate))
            // Where the time goes: each stage once, on the warm workspace.
            t0 = now()
            try Kernels.updateGeometry(theta, origin: origin, into: &ws.geometry)
            let tGeo = Double(now() - t0) * 1e-9; t0 = now()
            let dist = market.distances(ws.geometry)
            let tDist = Double(now() - t0) * 1e-9; t0 = now()
            cleared = try market.clear(reports: econ, distances: dist)
            let tClear = Double(now() - t0) * 1e-9; t0 = now()
            try market.proxCenters(parameters: theta, geometry: ws.geometry, imports: cleared.imports, reports: econ, into: &ws.centres)
            let tProx = Double(now() - t0) * 1e-9
            print(String(format: "   first (cold) step %.0f ms; stages: geometry (U, Gram, cosines) %.0f ms, distances %.1f ms, graph + payments %.1f ms (%.1f Newton steps per threshold), prox centres %.0f ms",
                         cold * 1e3, tGeo * 1e3, tDist * 1e3, tClear * 1e3, Double(cleared.thresholdIterations) / Double(m * (m - 1)), tProx * 1e3))
            let result = (outcome: cleared, centres: ws.centres)
            let edges = result.outcome.edges.count
            print(String(format: "   %d edges (%.1f per importer); the Gram matrix alone at the sgemm rate would take %.0f ms", edges,
                         Double(edges) / Double(m), gramFlops / sgemmRate / 1e6))
            let peerDir = try PeerFolder("agora-market-peer"), dir = peerDir.path
            try peerDir.write(theta.storage, "theta.f32"); try peerDir.write(origin, "origin.f32")
            try peerDir.write(econ.flatMap { [$0.dataSize, $0.cost, $0.eagerness] }, "econ.f64")
            if let peer = runPeer(["market_numpy.py", dir, "\(m)", "\(p)", "2", "5", quick ? "1" : "3"], timeout: 600),
               let secs = peer["seconds"] as? Double,
               let a = peerDir.read("imports.i8", as: UInt8.self),
               let dn = maxAbsDifference(peerDir.read("net.f64", as: Double.self), result.outcome.netPayments),
               let cs = peerDir.read("centres.f32", as: Float.self), let dc = maxAbsDifference(cs, result.centres.storage) {
                var ours = Set<Int>()
                for (i, j) in result.outcome.edges { ours.insert(i * m + j) }
                let theirs = Set(a.indices.filter { a[$0] != 0 })
                let differing = ours.symmetricDifference(theirs).count
                let sc = cs.map(abs).max() ?? 0
                marketRatio = secs / t.median
                print(String(format: "   numpy: %.3f s; Agora is %.1fx faster; edges differing %d of %d, max |net payment difference| %.2e, max |centre difference| %.2e (max |centre| %.2e)",
                             secs, marketRatio!, differing, theirs.count, dn, dc, sc))
            } else {
                print("   numpy peer gave no answer (needs python3 with numpy)")
            }
        } catch {
            print("   skipped: \(error)")
        }

        }
        print("")
        print("== contracts (exact solver vs scipy trust-constr peer on the same program)")
        var contractRatios: [String: (ratio: Double, ours: Double, peer: Double)] = [:]
        if want("contracts") {
        let scenarios: [(String, ContractSetting)] = ContractScenario.allCases.map { ($0.rawValue, $0.setting) }
            + (quick ? [] : [("large", ContractSetting(participants: 20, probabilities: [Double](repeating: 0.125, count: 8),
                                                       costs: [0.8, 0.6, 0.4, 0.2, 0.1, 0.05, 0.02, 0.01]))])
        for (name, setting) in scenarios {
            var menu: ContractMenu? = nil
            let t = measure(reps: name == "large" ? 1 : (quick ? 3 : 7)) {
                menu = try! ContractDesigner(setting, outcomeLimit: 2_000_000).solve(completeInformation: false)
            }
            add("contract/\(name)/I:\(setting.costs.count)/N:\(setting.participants)", t, threads: 1)
            print(String(format: "   ours: E[v(a)] = %.7f, KKT residual %.1e, %d outcomes", menu!.expectedValue, menu!.kktResidual, menu!.outcomes))
            if let peer = runPeer(["contract_scipy.py", name], timeout: name == "large" ? 120 : 60),
               let secs = peer["seconds"] as? Double, let obj = peer["objective"] as? Double {
                let ratio = secs / t.median
                contractRatios[name] = (ratio, menu!.expectedValue, obj)
                print(String(format: "   scipy trust-constr: %.3f s, E[v(a)] = %.7f (%d iterations): ours is %.0fx faster, objective %@ by %.2e",
                             secs, obj, (peer["iterations"] as? Int) ?? -1, ratio,
                             menu!.expectedValue >= obj - 1e-9 ? "higher or equal" : "LOWER", menu!.expectedValue - obj))
            } else {
                print("   scipy peer gave no answer (needs python3 with numpy and scipy; stopped after \(name == "large" ? 120 : 60) s)")
            }
        }

        }
        if want("sweep") {
            print("")
            print("== scaling sweep (agents x model size x topology x threads; mechanisms)")
            try Sweep(quick: quick, reps: quick ? 3 : 5, copyBound: copyBound, sgemmRate: sgemmRate, outDir: outDir).run {
                name, t, threads, bytes, flops, bound in add(name, t, threads: threads, bytes: bytes, flops: flops, bound: bound)
            }
        }

        print("")
        print("== targets (performance.md)")
        let big = quick ? 20000 : 100_000
        if let bigT = mixResults["sparse/\(big)/\(allThreads)"], let denseT = mixResults["dense/1000"], let smallT = mixResults["sparse/1000/\(allThreads)"] {
            let bigFrac = (2.0 * Double(n * big) * 4 / bigT / 1e9) / copyBound[allThreads]!
            target("sparse mix n=1024 d=\(big), all cores, >= 0.8 of copy bandwidth", bigFrac, 0.8, quick: quick && big != 100_000)
            print(String(format: "   dense GEMM / sparse kernel time at n=1024, d=1e3: %.1fx (density-based choice: sparse)", denseT / smallT))
            if allThreads > 1, let oneT = mixResults["sparse/\(big)/1"] {
                target("parallel speed-up, sparse mix d=\(big), \(allThreads) threads, >= 1.7x", oneT / bigT, 1.7, quick: false)
            }
        }
        if let (rs, rn) = mixPeerRatios {
            target("sparse mix n=1024 d=1e3 >= 2x faster than scipy CSR", rs / 2, 1.0, quick: false, shown: String(format: "%.1fx", rs))
            target("sparse mix n=1024 d=1e3 >= 10x faster than numpy", rn / 10, 1.0, quick: false, shown: String(format: "%.1fx", rn))
        }
        if let r = records.last(where: { $0.name.hasPrefix("glm_grad/") }), let f = r.fraction_of_bound {
            target("batched logistic gradient >= 0.6 of copy bandwidth", f / 0.6, 1.0, quick: quick, shown: String(format: "%.2f", f))
        }
        if let dsgdRatio {
            target("one DSGD iteration, 256 agents, >= 10x faster than numpy", dsgdRatio / 10, 1.0, quick: quick, shown: String(format: "%.1fx", dsgdRatio))
        }
        if let marketRatio {
            target("iPFL market step, m=1000, P=\(quick ? "1e4" : "1e5"), >= 10x faster than numpy", marketRatio / 10, 1.0, quick: quick, shown: String(format: "%.1fx", marketRatio))
        }
        if let glmRatio { print(String(format: "   batched logistic gradient vs numpy: %.1fx (no target in performance.md; reported)", glmRatio)) }
        if let s3 = contractRatios["s3"] {
            target("contract S3 >= 100x faster than scipy trust-constr, objective not lower", s3.ours >= s3.peer - 1e-9 ? s3.ratio / 100 : 0, 1.0,
                   quick: false, shown: String(format: "%.0fx, objective %+.2e", s3.ratio, s3.ours - s3.peer))
        }
        target("fork/join overhead per parallel region <= 5 us", 5.0 / max(1e-9, fj.median * 1e6), 1.0, quick: false,
               shown: String(format: "%.2f us", fj.median * 1e6))

        // Output files.
        let git = shell("git rev-parse --short HEAD 2>/dev/null")
        let cpu = shell("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2")
        let caches = shell("for d in /sys/devices/system/cpu/cpu0/cache/index*; do echo L$(cat $d/level)-$(cat $d/type):$(cat $d/size); done 2>/dev/null")
            .split(separator: "\n").map(String.init)
        let ctx = Context(date: ISO8601DateFormatter().string(from: Date()), host_name: ProcessInfo.processInfo.hostName,
                          executable: args[0], num_cpus: ProcessInfo.processInfo.activeProcessorCount, cpu_model: cpu,
                          caches: caches, openblas_config: OpenBLAS.config, openblas_corename: OpenBLAS.coreName,
                          openblas_env: env, agora_threads: allThreads, git_revision: git.isEmpty ? "unknown" : git, quick: quick)
        try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
        let enc = JSONEncoder(); enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try enc.encode(Output(context: ctx, benchmarks: records)).write(to: URL(fileURLWithPath: outDir + "/agora-bench.json"))
        var csv = "name,threads,real_time_us,min_us,max_us,gb_per_s,gflop_per_s,fraction_of_bound,bound\n"
        for r in records {
            csv += "\(r.name),\(r.threads),\(r.real_time),\(r.real_time_min),\(r.real_time_max),\(r.gb_per_s.map { "\($0)" } ?? ""),\(r.gflop_per_s.map { "\($0)" } ?? ""),\(r.fraction_of_bound.map { "\($0)" } ?? ""),\(r.bound ?? "")\n"
        }
        try csv.write(toFile: outDir + "/agora-bench.csv", atomically: true, encoding: .utf8)
        print("\nwrote \(outDir)/agora-bench.json and \(outDir)/agora-bench.csv")
        if let i = args.firstIndex(of: "--save-baseline"), i + 1 < args.count {
            try enc.encode(Output(context: ctx, benchmarks: records)).write(to: URL(fileURLWithPath: args[i + 1]))
            print("saved baseline \(args[i + 1])")
        }
        if let i = args.firstIndex(of: "--baseline"), i + 1 < args.count {
            let threshold = args.firstIndex(of: "--threshold").flatMap { Double(args[$0 + 1]) } ?? 0.10
            guard let data = FileManager.default.contents(atPath: args[i + 1]) else {
                print("error: cannot read baseline \(args[i + 1])"); exit(2)
            }
            let base: Output
            do { base = try JSONDecoder().decode(Output.self, from: data) } catch {
                print("error: \(args[i + 1]) is not an AgoraBench JSON file (\(error))"); exit(2)
            }
            let cmp = BaselineComparison(baseline: base.benchmarks, current: records, threshold: threshold)
            print("\n== regression check against \(args[i + 1]) (revision \(base.context.git_revision), threshold \(threshold), spread-aware)")
            for r in cmp.rows {
                print(pad(r.name, 56) + String(format: "%+7.1f%% (allowed %+.1f%%)%@", 100 * r.change, 100 * r.allowance, r.regressed ? "  REGRESSION" : ""))
            }
            if !cmp.onlyInBaseline.isEmpty { print("only in the baseline: \(cmp.onlyInBaseline.joined(separator: ", "))") }
            if !cmp.onlyInCurrent.isEmpty { print("new in this run: \(cmp.onlyInCurrent.joined(separator: ", "))") }
            if !cmp.regressions.isEmpty {
                print("\(cmp.regressions.count) configuration(s) slower than the baseline beyond the allowance")
                exit(1)
            }
            print("no regression")
        }
    }

    static func target(_ what: String, _ value: Double, _ goal: Double, quick: Bool, shown: String? = nil) {
        let verdict = value >= goal ? "PASS" : "FAIL"
        print("   [\(verdict)] \(what): \(shown ?? String(format: "%.2f", value))\(quick ? " (quick mode: smaller size)" : "")")
    }
}

/// Runs a peer script from Benchmarks/peers with python3 and parses its one-line JSON output.
func runPeer(_ args: [String], timeout: Double) -> [String: Any]? {
    let dir = ProcessInfo.processInfo.environment["AGORA_PEERS"] ?? "Benchmarks/peers"
    let python = ProcessInfo.processInfo.environment["AGORA_PYTHON"] ?? "python3"
    let cmd = "timeout \(Int(timeout)) \(python) \(dir)/\(args[0]) \(args.dropFirst().joined(separator: " "))"
    let out = shell(cmd)
    guard let line = out.split(separator: "\n").last, let data = line.data(using: .utf8),
          let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
    return obj
}

struct SendPtr<T>: @unchecked Sendable { let p: UnsafeMutablePointer<T>; init(_ p: UnsafeMutablePointer<T>) { self.p = p } }

func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s + " " : s + String(repeating: " ", count: w - s.count) }

/// a = b + s c, vectorized.
@inline(never) func triad(_ a: UnsafeMutablePointer<Float>, _ b: UnsafeMutablePointer<Float>, _ c: UnsafeMutablePointer<Float>, _ n: Int, _ s: Float) {
    var k = 0
    let sv = SIMD16<Float>(repeating: s)
    while k + 16 <= n {
        let v = UnsafeRawPointer(b + k).loadUnaligned(as: SIMD16<Float>.self) + sv * UnsafeRawPointer(c + k).loadUnaligned(as: SIMD16<Float>.self)
        UnsafeMutableRawPointer(a + k).storeBytes(of: v, as: SIMD16<Float>.self)
        k += 16
    }
    while k < n { a[k] = b[k] + s * c[k]; k += 1 }
}

/// A scratch folder shared with a Python peer: inputs written as raw native-endian arrays (what
/// numpy's `fromfile` reads), outputs read back the same way.
struct PeerFolder {
    let path: String
    init(_ name: String) throws {
        path = NSTemporaryDirectory() + name
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func write<E>(_ v: [E], _ name: String) throws {
        try v.withUnsafeBufferPointer { Data(buffer: $0) }.write(to: URL(fileURLWithPath: path + "/" + name))
    }
    /// The file as an array of E, or nil when it is missing or its size is not a whole number of E.
    func read<E>(_ name: String, as _: E.Type) -> [E]? {
        guard let data = FileManager.default.contents(atPath: path + "/" + name), data.count % MemoryLayout<E>.stride == 0 else { return nil }
        return data.withUnsafeBytes { Array($0.bindMemory(to: E.self)) }
    }
}

/// max_k |a_k - b_k|, or nil when either is missing or the lengths differ (a peer's answer that does
/// not even have the right shape).
func maxAbsDifference<T: BinaryFloatingPoint>(_ a: [T]?, _ b: [T]) -> T? {
    guard let a, a.count == b.count else { return nil }
    return zip(a, b).reduce(T(0)) { max($0, abs($1.0 - $1.1)) }
}
