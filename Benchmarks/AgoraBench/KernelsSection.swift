import AgoraBenchCore
import AgoraExperiments
import AgoraKernels
import AgoraLearning
import AgoraMechanisms
import AgoraTopology
import Foundation

extension BenchSession {
    /// The kernels against their bounds: sparse and dense mixing, the fused update, scipy/numpy
    /// peers for the d = 1e3 mix, Gram matrix and row norms.
    func runKernels() throws {
        print("")
        print("== kernels")
        let n = mixAgents
        // Sparse neighbour mix: torus (4 neighbours), n = 1024, d = 1e3 and 1e5.
        let g = try Topology.torus(rows: 32, cols: 32).graph(agents: n)
        let w = try MixingMatrix(graph: g, scheme: .metropolis)
        let sparseOp: MixingOperator<Float> = w.mixingOperator(strategy: .sparse)
        measureMix(sparseOp, w)
        try measureMixByDegree()
        try measureMixPeers(sparseOp)
        measureGram()
    }

    /// Sparse mix on 1 and all threads, dense GEMM mix at d = 1e3, the fused update.
    func measureMix(_ sparseOp: MixingOperator<Float>, _ w: MixingMatrix) {
        let n = mixAgents
        let denseOp: MixingOperator<Float> = w.mixingOperator(strategy: .dense)
        for d in (quick ? [1000, 20000] : [1000, 100_000]) {
            let x: Matrix<Float> = rng.normalMatrix(rows: n, cols: d)
            var y = Matrix<Float>(rows: n, cols: d)
            let bytes = 2.0 * Double(n * d) * 4  // compulsory traffic: read X once, write Y once
            for th in Set([1, allThreads]).sorted() {
                pool.threads = th
                let t = measure(reps: reps, inner: d <= 1000 ? 50 : 1) { try! Kernels.mix(sparseOp, x, into: &y) }
                mixResults["sparse/\(d)/\(th)"] = t.median
                add(
                    "mix/sparse/torus/n:\(n)/d:\(d)/threads:\(th)", t, threads: th, bytes: bytes,
                    bound: copyBound(workingSet: bytes, threads: th))
            }
            pool.threads = allThreads
            if d <= 1000 {
                var yd = Matrix<Float>(rows: n, cols: d)
                let t = measure(reps: quick ? 3 : 5) { try! Kernels.mix(denseOp, x, into: &yd) }
                mixResults["dense/\(d)"] = t.median
                add(
                    "mix/dense_gemm/torus/n:\(n)/d:\(d)", t, threads: OpenBLAS.threads, flops: 2.0 * Double(n * n * d),
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
            add(
                "mix_step/sparse/torus/n:\(n)/d:\(d)/threads:\(allThreads)", t, threads: allThreads,
                bytes: 3.0 * Double(n * d) * 4, bound: copyBound(workingSet: 3.0 * Double(n * d) * 4, threads: allThreads))
        }
    }

    /// The sparse mix at n = 1024, d = 1e4 over topologies of growing degree, each against its
    /// unique-traffic bound: one read of X and one write of Y at the copy bandwidth of the level
    /// they live in (neighbour rows reused from cache cost nothing in this bound).
    ///
    /// Beside it, the floor that explains the gap at high degree: every neighbour read (nnz * d
    /// elements) comes from the cache level that holds the tile's live set (all agents' rows of
    /// one column tile), not from L1, at that level's measured copy rate. The mix cannot beat the
    /// larger of the two; `floorFraction` is the achieved share of that larger time.
    func measureMixByDegree() throws {
        let n = mixAgents, d = 10_000
        let x: Matrix<Float> = rng.normalMatrix(rows: n, cols: d)
        var y = Matrix<Float>(rows: n, cols: d)
        let bytes = 2.0 * Double(n * d) * 4
        let bound = copyBound(workingSet: bytes, threads: allThreads)
        let topologies: [Topology] = [
            .ring, .torus(rows: 32, cols: 32), .onePeerExponential, .randomRegular(k: 8),
            .exponential, .randomRegular(k: 32),
        ]
        for topo in topologies {
            let op: MixingOperator<Float> = try MixingMatrix(graph: try topo.graph(agents: n, seed: 3), scheme: .metropolis)
                .mixingOperator(strategy: .sparse)
            let degree = Double(op.csr.nonzeros) / Double(n) - 1
            let t = measure(reps: reps) { try! Kernels.mix(op, x, into: &y) }
            add("mix/by_degree/\(topo.description)/n:\(n)/d:\(d)/threads:\(allThreads)", t, threads: allThreads, bytes: bytes, bound: bound)
            let live = Double(n * Kernels.sparseMixTile(agents: n, cols: d, Float.self) * 4)
            let level = copyBound(workingSet: live, threads: allThreads)
            let neighbourBytes = Double(op.csr.nonzeros) * Double(d) * 4
            let floor = max(bytes / bound.1, neighbourBytes / level.1) / 1e9
            print(
                String(
                    format:
                        "      neighbour reads %.0f MB from the tile's live set (%.1f MiB, %@ at %.0f GB/s): floor %.2f ms, achieved %.2f of it",
                    neighbourBytes / 1e6, live / 1048576, level.0, level.1, floor * 1e3, floor / t.median))
            mixByDegree.append((topo.description, degree, bytes / t.median / 1e9 / bound.1, floor / t.median, level.0))
        }
        // A row length of 4 KiB (d = 1024 floats) puts every neighbour row at the same L1 set
        // offset; rows of more than 12 entries then take the grouped kernel (Kernels.groupedMixDegree).
        let da = 1024
        let xa: Matrix<Float> = rng.normalMatrix(rows: n, cols: da)
        var ya = Matrix<Float>(rows: n, cols: da)
        let bytesA = 2.0 * Double(n * da) * 4
        for topo in [Topology.exponential, .randomRegular(k: 32)] {
            let op: MixingOperator<Float> = try MixingMatrix(graph: try topo.graph(agents: n, seed: 3), scheme: .metropolis)
                .mixingOperator(strategy: .sparse)
            let t = measure(reps: reps, inner: 5) { try! Kernels.mix(op, xa, into: &ya) }
            add(
                "mix/aliased_rows/\(topo.description)/n:\(n)/d:\(da)/threads:\(allThreads)", t, threads: allThreads, bytes: bytesA,
                bound: copyBound(workingSet: bytesA, threads: allThreads))
        }
    }

    /// Peers for the d = 1e3 mix: scipy CSR and a numpy gather, identical inputs, answers compared.
    func measureMixPeers(_ sparseOp: MixingOperator<Float>) throws {
        let n = mixAgents
        let d = 1000
        let x: Matrix<Float> = rng.normalMatrix(rows: n, cols: d)
        var y = Matrix<Float>(rows: n, cols: d)
        try Kernels.mix(sparseOp, x, into: &y)
        let peerDir = try PeerFolder("agora-mix-peer"), dir = peerDir.path
        try peerDir.write(x.storage, "x.f32")
        try peerDir.write(sparseOp.csr.rowStart.map { Int64($0) }, "rowstart.i64")
        try peerDir.write(sparseOp.csr.columns, "cols.i32")
        try peerDir.write(sparseOp.csr.values, "vals.f32")
        if let peer = runPeer(["mix_scipy.py", dir, "\(n)", "\(d)", "\(reps)"], timeout: 120),
            let ts = peer["scipy_seconds"] as? Double, let tn = peer["numpy_seconds"] as? Double,
            let es = maxAbsDifference(peerDir.read("y_scipy.f32", as: Float.self), y.storage),
            let en = maxAbsDifference(peerDir.read("y_numpy.f32", as: Float.self), y.storage)
        {
            let ours = mixResults["sparse/\(d)/\(allThreads)"] ?? 0
            mixPeerRatios = (ts / ours, tn / ours)
            print(
                String(
                    format:
                        "   peers at d = 1e3: scipy CSR %.1f us (Agora %.1fx faster), numpy gather %.1f us (%.1fx); max |difference| %.1e and %.1e",
                    ts * 1e6, ts / ours, tn * 1e6, tn / ours, es, en))
        } else {
            print("   mix peers gave no answer (needs python3 with numpy and scipy)")
        }
        if let peer = runJAXPeer("mix", [dir, "\(n)", "\(d)", "\(reps)"], timeout: 300),
            let secs = peer["seconds"] as? Double,
            let e = maxAbsDifference(peerDir.read("y_jax.f32", as: Float.self), y.storage)
        {
            let ours = mixResults["sparse/\(d)/\(allThreads)"] ?? 0
            jaxRatios["mix"] = secs / ours
            print(
                String(
                    format:
                        "   JAX jit at d = 1e3 (best of ELL gather %.1f us and BCOO %.1f us): Agora %.1fx faster; max |difference| %.1e",
                    ((peer["ell_seconds"] as? Double) ?? 0) * 1e6, ((peer["bcoo_seconds"] as? Double) ?? 0) * 1e6, secs / ours, e))
        }
    }

    /// Gram matrix and cosine distances (syrk), row norms.
    func measureGram() {
        let gx: Matrix<Float> = rng.normalMatrix(rows: quick ? 256 : 1000, cols: quick ? 10_000 : 100_000)
        let tgram = measure(reps: quick ? 3 : 5) { _ = Kernels.gram(gx) }
        add(
            "gram/syrk/n:\(gx.rows)/d:\(gx.cols)", tgram, threads: OpenBLAS.threads,
            flops: Double(gx.rows * gx.rows) * Double(gx.cols), bound: ("sgemm", sgemmRate))
        let tnorm = measure(reps: reps) { _ = Kernels.rowSquaredNorms(gx) }
        add(
            "row_norms/n:\(gx.rows)/d:\(gx.cols)", tnorm, threads: allThreads,
            bytes: Double(gx.storage.count) * 4, bound: copyBound(workingSet: Double(gx.storage.count) * 4, threads: allThreads))
    }
}
