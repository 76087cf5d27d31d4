import AgoraBenchCore
import AgoraKernels
import AgoraLearning
import Foundation

extension BenchSession {
    /// One local training step of every client with `simplecnn-mnist` (9 clients x batch 64:
    /// gradients of all clients' mini-batches, then momentum SGD with weight decay), a whole round of
    /// local steps as `market run` trains, and the JAX jit peer of the step on the same weights and
    /// images, gradients compared. Throughput against the measured sgemm rate.
    func runCNN() throws {
        let clients = 9, batch = 64, steps = quick ? 10 : 200
        let shape = CNNShape.simpleCNN(channels: 1, height: 28, width: 28, classes: 10)
        let p = shape.parameterCount
        var g = SeededGenerator(seed: 41)
        // Images in [0, 1] with a class-dependent blob, so the loss has something to learn.
        let rows = clients * batch * 4
        let labels = (0..<rows).map { $0 % 10 }
        var pixels = [Float](repeating: 0, count: rows * shape.inputs)
        for r in 0..<rows {
            for q in 0..<shape.inputs { pixels[r * shape.inputs + q] = Float(g.uniform()) * (q % 10 == labels[r] ? 1 : 0.3) }
        }
        let x = try Matrix(rows: rows, cols: shape.inputs, storage: pixels)
        let model = ModelFamily.cnn(shape, l2: 0)
        var initRNG = SeededGenerator(seed: 42)
        let theta0 = (0..<clients).flatMap { _ in model.initialParameters(features: shape.inputs, using: &initRNG) }
        var theta = try Matrix(rows: clients, cols: p, storage: theta0)
        let batches = (0..<clients).map { a in Array((a * batch)..<((a + 1) * batch)) }
        var grads = Matrix<Float>(rows: clients, cols: p), losses = [Float](repeating: 0, count: clients)
        var opt = MomentumSGD(learningRate: 0.01, momentum: 0.9, weightDecay: 1e-5)
        let stepFlops = Double(clients * batch * shape.trainingFlopsPerImage)
        let tGrad = measure(reps: reps) {
            try! Kernels.cnnGradients(
                shape: shape, l2: 0, features: .dense(x), labels: labels, parameters: theta, batches: batches, gradients: &grads,
                losses: &losses)
        }
        let firstGrads = grads, firstLosses = losses
        add(
            "cnn_grad/simplecnn-mnist/clients:\(clients)/batch:\(batch)", tGrad, threads: allThreads, flops: stepFlops,
            bound: ("sgemm", sgemmRate))
        var stepped = theta
        let tStep = measure(reps: reps) {
            stepped = theta
            try! Kernels.cnnGradients(
                shape: shape, l2: 0, features: .dense(x), labels: labels, parameters: stepped, batches: batches, gradients: &grads,
                losses: &losses)
            try! opt.step(&stepped, gradients: grads)
        }
        add(
            "cnn_step/simplecnn-mnist/clients:\(clients)/batch:\(batch)", tStep, threads: allThreads, flops: stepFlops,
            bound: ("sgemm", sgemmRate))
        cnnStepFraction = stepFlops / tStep.median / 1e9 / sgemmRate
        // A whole round as market run trains: fresh velocity, batches drawn per client, `steps` steps.
        let ds = Dataset(name: "bench-images", features: .dense(x), labels: labels, labelNames: (0..<10).map(String.init))
        let parts = (0..<clients).map { a in Array(stride(from: a, to: rows, by: clients)) }
        let fed = try FederatedClients(data: ds, model: model, partition: parts, testFraction: 0, seed: 1)
        var rngs = (0..<clients).map { SeededGenerator(seed: 5, stream: UInt64($0)) }
        let training = [Bool](repeating: true, count: clients)
        let tRound = measure(reps: quick ? 1 : 2) {
            var th = theta
            try! fed.train(
                &th, steps: steps, batch: batch, optimizer: MomentumSGD(learningRate: 0.01, momentum: 0.9, weightDecay: 1e-5),
                training: training, rngs: &rngs)
        }
        add(
            "cnn_round/simplecnn-mnist/clients:\(clients)/batch:\(batch)/steps:\(steps)", tRound, threads: allThreads,
            flops: stepFlops * Double(steps), bound: ("sgemm", sgemmRate))
        cnnRoundFraction = stepFlops * Double(steps) / tRound.median / 1e9 / sgemmRate
        print(
            String(
                format: "   %d clients x batch %d: %.2f GFLOP per step (%.2f MFLOP per image forward + backward); sgemm %.1f GFLOP/s at %@",
                clients, batch, stepFlops / 1e9, Double(shape.trainingFlopsPerImage) / 1e6, sgemmRate, OpenBLAS.coreName))
        // The JAX peer: the same weights and images (NCHW), gradients of every client compared.
        let peerDir = try PeerFolder("agora-cnn-peer"), dir = peerDir.path
        try peerDir.write(theta.storage, "theta.f32")
        var images = [Float]()
        for b in batches { for r in b { images.append(contentsOf: x.storage[(r * shape.inputs)..<((r + 1) * shape.inputs)]) } }
        try peerDir.write(images, "x.f32")
        try peerDir.write(batches.flatMap { $0.map { Int32(labels[$0]) } }, "labels.i32")
        if let peer = runJAXPeer("cnn", [dir, "\(clients)", "\(batch)", "1", "28", "10", "0.01", "0.9", "1e-5", "\(reps)"], timeout: 600),
            let secs = peer["seconds"] as? Double,
            let jg = peerDir.read("grad_jax.f32", as: Float.self), let jl = peerDir.read("loss_jax.f32", as: Float.self),
            let diff = maxAbsDifference(jg, firstGrads.storage)
        {
            let scale = Double(jg.map(abs).max() ?? 0), d = Double(diff)
            let lossDiff = Double(zip(jl, firstLosses).map { abs($0 - $1) }.max() ?? .nan)
            jaxRatios["cnn"] = secs / tStep.median
            print(
                String(
                    format:
                        "   JAX %@ jit step: %.2f ms; Agora's step is %.2fx faster; gradients max |difference| %.2e (%.1e of max |g| %.2e), losses %.1e",
                    (peer["jax"] as? String) ?? "?", secs * 1e3, secs / tStep.median, d, d / max(1e-30, scale), scale,
                    lossDiff))
            cnnGradientAgreement = d / max(1e-30, scale)
        }
    }
}
