import AgoraBenchCore
import AgoraExperiments
import AgoraKernels
import AgoraLearning
import AgoraMechanisms
import AgoraTopology
import Foundation

extension BenchSession {
    /// The batched logistic-regression gradient (256 agents, dense rows) against its copy bound and
    /// a numpy peer on identical inputs.
    func runGradients() throws {
        let agents = 256, batch = 64, d = quick ? 256 : 1000
        var g = SeededGenerator(seed: 17)
        let x: Matrix<Float> = g.normalMatrix(rows: agents * batch, cols: d)
        let y = (0..<(agents * batch)).map { _ in Float(g.uniform() < 0.5 ? -1 : 1) }
        let theta: Matrix<Float> = g.normalMatrix(rows: agents, cols: d, scale: 0.05)
        let batches = (0..<agents).map { a in Array((a * batch)..<((a + 1) * batch)) }
        var grads = Matrix<Float>(rows: agents, cols: d), losses = [Float](repeating: 0, count: agents)
        let t = measure(reps: reps) {
            try! Kernels.glmGradients(
                loss: .logistic, l2: 1e-4, features: .dense(x), targets: y, parameters: theta,
                batches: batches, gradients: &grads, losses: &losses)
        }
        let bytes = Double(agents * batch * d + 2 * agents * d) * 4
        add(
            "glm_grad/logistic/dense/agents:\(agents)/batch:\(batch)/d:\(d)/threads:\(allThreads)", t, threads: allThreads,
            bytes: bytes, bound: copyBound(workingSet: bytes, threads: allThreads))
        let peerDir = try PeerFolder("agora-glm-peer"), dir = peerDir.path
        try peerDir.write(x.storage, "x.f32")
        try peerDir.write(y, "y.f32")
        try peerDir.write(theta.storage, "theta.f32")
        if let peer = runPeer(["glm_numpy.py", dir, "\(agents)", "\(batch)", "\(d)", "1e-4", "\(reps)"], timeout: 120),
            let secs = peer["seconds"] as? Double,
            let ng = peerDir.read("grad_numpy.f32", as: Float.self), let diff = maxAbsDifference(ng, grads.storage)
        {
            let scale = ng.map(abs).max() ?? 0
            glmRatio = secs / t.median
            print(
                String(
                    format: "   numpy %@: %.1f us; Agora is %.1fx faster; max |difference| %.2e (max |g| %.2e)",
                    (peer["numpy"] as? String) ?? "?", secs * 1e6, glmRatio!, diff, scale))
        } else {
            print("   numpy peer gave no answer (needs python3 with numpy)")
        }
        if let peer = runJAXPeer("glm", [dir, "\(agents)", "\(batch)", "\(d)", "1e-4", "\(reps)"], timeout: 300),
            let secs = peer["seconds"] as? Double,
            let jg = peerDir.read("grad_jax.f32", as: Float.self), let diff = maxAbsDifference(jg, grads.storage)
        {
            jaxRatios["glm"] = secs / t.median
            print(
                String(
                    format: "   JAX %@ jit: %.1f us; Agora is %.2fx faster; max |difference| %.2e",
                    (peer["jax"] as? String) ?? "?", secs * 1e6, secs / t.median, diff))
        }
    }
}
