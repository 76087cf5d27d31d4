import AgoraBenchCore
import AgoraExperiments
import AgoraKernels
import AgoraLearning
import AgoraMechanisms
import AgoraTopology
import Foundation

extension BenchSession {
    /// One truthful-DSGD iteration (256 agents on the exponential graph: batched gradients, then the
    /// mechanism step: fused mix and payments), its stages, and a numpy/scipy peer on identical inputs.
    func runDSGD() throws {
        let agents = 256, rowsPer = 64, batch = 32, d = quick ? 100 : 500
        var g = SeededGenerator(seed: 23)
        let x: Matrix<Float> = g.normalMatrix(rows: agents * rowsPer, cols: d)
        let y = (0..<(agents * rowsPer)).map { _ in Float(g.uniform() < 0.5 ? -1 : 1) }
        let theta: Matrix<Float> = g.normalMatrix(rows: agents, cols: d, scale: 0.05)
        let batches = (0..<agents).map { a in (0..<batch).map { _ in a * rowsPer + Int(g.next() % UInt64(rowsPer)) } }
        let ex = try InProcessExchange(topology: .exponential, weights: .metropolis, agents: agents, seed: 1)
        let mech = TruthfulDSGD(
            stepSize: PowerSchedule(initial: 0.1, exponent: 0.6),
            payments: PaymentRule(coefficient: PowerSchedule(initial: 1e-3, exponent: 0.1)))
        var grads = Matrix<Float>(rows: agents, cols: d), next = grads, losses = [Float](repeating: 0, count: agents)
        var pay: [Double] = []
        let t = measure(reps: reps, inner: 5) {
            try! Kernels.glmGradients(
                loss: .logistic, l2: 1e-4, features: .dense(x), targets: y, parameters: theta,
                batches: batches, gradients: &grads, losses: &losses, computeLosses: false)
            let norms = Kernels.rowSquaredNorms(grads).map(Double.init)
            pay = try! mech.step(iteration: 0, parameters: theta, applied: grads, reports: norms, exchange: ex, into: &next)
        }
        add("dsgd_iteration/logistic/agents:\(agents)/batch:\(batch)/d:\(d)/exponential", t, threads: allThreads)
        let tg = measure(reps: reps, inner: 5) {
            try! Kernels.glmGradients(
                loss: .logistic, l2: 1e-4, features: .dense(x), targets: y, parameters: theta,
                batches: batches, gradients: &grads, losses: &losses, computeLosses: false)
        }
        let normsOnce = Kernels.rowSquaredNorms(grads).map(Double.init)
        let tm = measure(reps: reps, inner: 5) {
            pay = try! mech.step(iteration: 0, parameters: theta, applied: grads, reports: normsOnce, exchange: ex, into: &next)
        }
        // Gradient traffic: every sampled row is read once from memory (the second pass hits cache).
        // Its level is the one the whole data set fits in, not the batch alone: training draws new
        // batches every iteration, so the rows come from all of X (33 MB here: DRAM on a 32 MiB-L3
        // machine, L3 on a 300 MiB one). The bench keeps its batches fixed, so on a large L3 the
        // rows may stay cached between calls; the bound does not count on that.
        let gradBytes = Double(agents * batch * d * 4), dataBytes = Double(x.storage.count * 4)
        let gradBound = copyBound(workingSet: dataBytes, threads: allThreads)
        add("dsgd_iteration/gradients_only/d:\(d)", tg, threads: allThreads, bytes: gradBytes, bound: gradBound)
        // The mix and payments read theta and the gradients once and write next (neighbour rows are
        // reused from cache): 3 agents x d floats.
        let mixBytes = Double(3 * agents * d * 4)
        add(
            "dsgd_iteration/mix_and_payments_only/d:\(d)", tm, threads: allThreads, bytes: mixBytes,
            bound: copyBound(workingSet: mixBytes, threads: allThreads))
        // The iteration's bound: both passes at the bandwidth of the level each working set lives in.
        let boundSeconds =
            gradBytes / (gradBound.1 * 1e9)
            + mixBytes / (copyBound(workingSet: mixBytes, threads: allThreads).1 * 1e9)
        dsgdBoundFraction = boundSeconds / t.median
        print(
            String(
                format:
                    "   bound (gradient rows at %@, where the %.0f MB data set fits; mix traffic at %@): %.1f us; the iteration runs at %.2f of it",
                gradBound.0, dataBytes / 1e6, copyBound(workingSet: mixBytes, threads: allThreads).0,
                boundSeconds * 1e6, dsgdBoundFraction!))
        let peerDir = try PeerFolder.dsgd("agora-dsgd-peer", x: x, y: y, theta: theta, batches: batches, exchange: ex)
        let dir = peerDir.path
        if let peer = runPeer(
            ["dsgd_numpy.py", dir, "\(agents)", "\(rowsPer)", "\(batch)", "\(d)", "0.1", "1e-3", "1e-4", "\(reps)"], timeout: 120),
            let secs = peer["seconds"] as? Double,
            let dx = maxAbsDifference(peerDir.read("next.f32", as: Float.self), next.storage),
            let pp = peerDir.read("pay.f64", as: Double.self), let dp = maxAbsDifference(pp, pay)
        {
            let sp = pp.map(abs).max() ?? 0
            dsgdRatio = secs / t.median
            print(
                String(
                    format:
                        "   numpy/scipy: %.1f us; Agora is %.1fx faster; max |theta difference| %.2e, max |payment difference| %.2e (max |payment| %.2e)",
                    secs * 1e6, dsgdRatio!, dx, dp, sp))
        } else {
            print("   numpy peer gave no answer (needs python3 with numpy and scipy)")
        }
        if let peer = runJAXPeer(
            "dsgd", [dir, "\(agents)", "\(rowsPer)", "\(batch)", "\(d)", "0.1", "1e-3", "1e-4", "\(reps)"], timeout: 300),
            let secs = peer["seconds"] as? Double,
            let dx = maxAbsDifference(peerDir.read("next_jax.f32", as: Float.self), next.storage),
            let dp = maxAbsDifference(peerDir.read("pay_jax.f64", as: Double.self), pay)
        {
            jaxRatios["dsgd"] = secs / t.median
            print(
                String(
                    format: "   JAX jit: %.1f us; Agora is %.2fx faster; max |theta difference| %.2e, max |payment difference| %.2e",
                    secs * 1e6, secs / t.median, dx, dp))
        }
    }
}
