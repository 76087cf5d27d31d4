import AgoraBenchCore
import AgoraExperiments
import AgoraKernels
import AgoraLearning
import AgoraMechanisms
import AgoraTopology
import Foundation

extension BenchSession {
    /// One iPFL market step at m = 1000 clients (P = 1e5 parameters; 1e4 quick) in steady state
    /// (reused workspace), its stages, its Gram bound, and a numpy peer with the answers compared.
    func runMarket() throws {
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
        // Absolute centre step (the reference code's and the peers'); the step's cost is the same.
        let market = ModelMarket(lambda: 2, eta: 5, centreStep: .absolute)
        // Steady state, as in a training loop: the workspace's buffers (U, Gram, centres) are reused.
        var ws = ModelMarket.Workspace<Float>()
        var t0 = now()
        var cleared = try market.step(uploaded: theta, origin: origin, reports: econ, workspace: &ws).outcome
        let cold = Double(now() - t0) * 1e-9
        let t = measure(reps: quick ? 3 : 5) {
            cleared = try! market.step(uploaded: theta, origin: origin, reports: econ, workspace: &ws).outcome
        }
        // Bound: the Gram matrix, m^2 P multiply-adds (syrk), at the measured sgemm rate.
        let gramFlops = Double(m) * Double(m + 1) * Double(p)
        add("market_step/clients:\(m)/params:\(p)", t, threads: allThreads, flops: gramFlops, bound: ("sgemm (Gram flops)", sgemmRate))
        // Where the time goes: each stage once, on the warm workspace.
        t0 = now()
        try Kernels.updateGeometry(theta, origin: origin, into: &ws.geometry)
        let tGeo = Double(now() - t0) * 1e-9
        t0 = now()
        let dist = market.distances(ws.geometry)
        let tDist = Double(now() - t0) * 1e-9
        t0 = now()
        cleared = try market.clear(reports: econ, distances: dist)
        let tClear = Double(now() - t0) * 1e-9
        t0 = now()
        try market.proxCenters(parameters: theta, geometry: ws.geometry, imports: cleared.imports, reports: econ, into: &ws.centres)
        let tProx = Double(now() - t0) * 1e-9
        print(
            String(
                format:
                    "   first (cold) step %.0f ms; stages: geometry (U, Gram, cosines) %.0f ms, distances %.1f ms, graph + payments %.1f ms (%.2f Newton steps per pair), prox centres %.0f ms",
                cold * 1e3, tGeo * 1e3, tDist * 1e3, tClear * 1e3, Double(cleared.thresholdIterations) / Double(m * (m - 1)), tProx * 1e3))
        var gramOnly = Matrix<Float>(rows: m, cols: m)
        let tSyrk = measure(reps: quick ? 3 : 5) { try! BLAS.syrk(ws.geometry.updates, into: &gramOnly) }
        add(
            "market_step/syrk_only/clients:\(m)/params:\(p)", tSyrk, threads: OpenBLAS.threads, flops: gramFlops,
            bound: ("sgemm (Gram flops)", sgemmRate))
        marketSyrkFraction = tSyrk.median / t.median
        print(
            String(
                format: "   ssyrk of the updates alone: %.0f ms; the step runs at %.2f of this syrk bound", tSyrk.median * 1e3,
                marketSyrkFraction!))
        // The whole step's bound: the ssyrk plus the memory traffic no step can avoid: U (read
        // theta, write U) and the centres (read U and theta, write the centres), 5 m P floats, at the
        // copy rate of the level they live in. It shows how much of the `marketSyrkTarget` the
        // machine's bandwidth leaves: the step's other work must fit in 0.18 of the ssyrk time.
        let matrixBytes = Double(m * p * MemoryLayout<Float>.size)
        let (level, rate) = copyBound(workingSet: matrixBytes, threads: allThreads)
        let tTraffic = 5 * matrixBytes / (rate * 1e9)
        print(
            String(
                format:
                    "   whole-step bound: ssyrk + %.1f GB of unavoidable traffic (U, centres) at %@ (%.0f GB/s, %.0f ms) = %.0f ms; the step runs at %.2f of it, and the %.2f-of-ssyrk target leaves %.0f ms for everything but the ssyrk",
                5 * matrixBytes / 1e9, level, rate, tTraffic * 1e3, (tSyrk.median + tTraffic) * 1e3,
                (tSyrk.median + tTraffic) / t.median, Self.marketSyrkTarget, tSyrk.median * (1 / Self.marketSyrkTarget - 1) * 1e3))
        let result = (outcome: cleared, centres: ws.centres)
        let edges = result.outcome.edges.count
        print(
            String(
                format: "   %d edges (%.1f per importer); the Gram matrix alone at the sgemm rate would take %.0f ms", edges,
                Double(edges) / Double(m), gramFlops / sgemmRate / 1e6))
        let peerDir = try PeerFolder("agora-market-peer"), dir = peerDir.path
        try peerDir.write(theta.storage, "theta.f32")
        try peerDir.write(origin, "origin.f32")
        try peerDir.write(econ.flatMap { [$0.dataSize, $0.cost, $0.eagerness] }, "econ.f64")
        if let peer = runPeer(["market_numpy.py", dir, "\(m)", "\(p)", "2", "5", quick ? "1" : "3"], timeout: 600),
            let secs = peer["seconds"] as? Double,
            let a = peerDir.read("imports.i8", as: UInt8.self),
            let dn = maxAbsDifference(peerDir.read("net.f64", as: Double.self), result.outcome.netPayments),
            let cs = peerDir.read("centres.f32", as: Float.self), let dc = maxAbsDifference(cs, result.centres.storage)
        {
            var ours = Set<Int>()
            for (i, j) in result.outcome.edges { ours.insert(i * m + j) }
            let theirs = Set(a.indices.filter { a[$0] != 0 })
            let differing = ours.symmetricDifference(theirs).count
            let sc = cs.map(abs).max() ?? 0
            marketRatio = secs / t.median
            print(
                String(
                    format:
                        "   numpy: %.3f s; Agora is %.1fx faster; edges differing %d of %d, max |net payment difference| %.2e, max |centre difference| %.2e (max |centre| %.2e)",
                    secs, marketRatio!, differing, theirs.count, dn, dc, sc))
        } else {
            print("   numpy peer gave no answer (needs python3 with numpy)")
        }
        if let peer = runJAXPeer("market", [dir, "\(m)", "\(p)", "2", "5", quick ? "3" : "5"], timeout: 600),
            let secs = peer["seconds"] as? Double,
            let a = peerDir.read("imports_jax.i8", as: UInt8.self),
            let dn = maxAbsDifference(peerDir.read("net_jax.f64", as: Double.self), result.outcome.netPayments),
            let dc = maxAbsDifference(peerDir.read("centres_jax.f32", as: Float.self), result.centres.storage)
        {
            var ours = Set<Int>()
            for (i, j) in result.outcome.edges { ours.insert(i * m + j) }
            let differing = ours.symmetricDifference(Set(a.indices.filter { a[$0] != 0 })).count
            jaxRatios["market"] = secs / t.median
            print(
                String(
                    format:
                        "   JAX jit: %.3f s; Agora is %.2fx faster; edges differing %d, max |net payment difference| %.2e (max |net payment| %.2e; JAX's float32 Gram sums in another order), max |centre difference| %.2e",
                    secs, secs / t.median, differing, dn, result.outcome.netPayments.map(abs).max() ?? 0, dc))
        }
    }
}
