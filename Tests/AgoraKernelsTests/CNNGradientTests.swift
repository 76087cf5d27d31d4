import AgoraKernels
import AgoraTestSupport
import Foundation
import XCTest

/// The convolutional kernels against a naive reference written here: direct convolution loops over
/// (C, H, W) tensors with no im2col, no BLAS and no channels-last layout, and its loss
/// differentiated by central differences.
final class CNNGradientTests: XCTestCase {
    /// A small network with padded convolutions (the first runs direct, the second through im2col),
    /// odd maps (floor pooling) and two hidden dense layers.
    let small = CNNShape(
        channels: 2, height: 11, width: 10,
        convolutions: [.init(channels: 3, kernel: 3, padding: 1), .init(channels: 4, kernel: 2, padding: 1)],
        hidden: [7, 5], classes: 3)

    /// The same with a first convolution of 33 filters, which runs through im2col too.
    let wide = CNNShape(
        channels: 2, height: 9, width: 9,
        convolutions: [.init(channels: 33, kernel: 3, padding: 1), .init(channels: 2, kernel: 2)],
        hidden: [4], classes: 3)

    /// Naive forward pass of one image: the class scores.
    func naiveLogits(_ s: CNNShape, _ th: [Double], _ image: ArraySlice<Double>) -> [Double] {
        var (c, h, w) = (s.channels, s.height, s.width)
        var map = Array(image)  // (C, H, W)
        var q = 0
        for conv in s.convolutions {
            let k = conv.kernel, pad = conv.padding, o = conv.channels
            let hc = h + 2 * pad - k + 1, wc = w + 2 * pad - k + 1
            let wt = q, bias = q + o * c * k * k
            q = bias + o
            var out = [Double](repeating: 0, count: o * hc * wc)
            for oc in 0..<o {
                for y in 0..<hc {
                    for x in 0..<wc {
                        var v = th[bias + oc]
                        for ic in 0..<c {
                            for i in 0..<k {
                                for j in 0..<k {
                                    let yy = y + i - pad, xx = x + j - pad
                                    if yy >= 0, yy < h, xx >= 0, xx < w {
                                        v += th[wt + ((oc * c + ic) * k + i) * k + j] * map[(ic * h + yy) * w + xx]
                                    }
                                }
                            }
                        }
                        out[(oc * hc + y) * wc + x] = max(0, v)
                    }
                }
            }
            let hp = hc / 2, wp = wc / 2
            var pooled = [Double](repeating: 0, count: o * hp * wp)
            for oc in 0..<o {
                for y in 0..<hp {
                    for x in 0..<wp {
                        let at = { (dy: Int, dx: Int) in out[(oc * hc + 2 * y + dy) * wc + 2 * x + dx] }
                        pooled[(oc * hp + y) * wp + x] = max(at(0, 0), at(0, 1), at(1, 0), at(1, 1))
                    }
                }
            }
            (c, h, w, map) = (o, hp, wp, pooled)
        }
        var a = map
        for (l, out) in (s.hidden + [s.classes]).enumerated() {
            let n = a.count
            var z = [Double](repeating: 0, count: out)
            for r in 0..<out {
                var v = th[q + out * n + r]
                for i in 0..<n { v += th[q + r * n + i] * a[i] }
                z[r] = l < s.hidden.count ? max(0, v) : v
            }
            q += out * n + out
            a = z
        }
        XCTAssertEqual(q, s.parameterCount)
        return a
    }

    func naiveLoss(_ s: CNNShape, _ th: [Double], _ x: Matrix<Double>, _ labels: [Int], _ rows: [Int], l2: Double) -> Double {
        var total = 0.0
        for r in rows {
            let z = naiveLogits(s, th, x.storage[(r * s.inputs)..<((r + 1) * s.inputs)])
            let m = z.max()!
            total += log(z.reduce(0) { $0 + exp($1 - m) }) - (z[labels[r]] - m)
        }
        return total / Double(rows.count) + l2 / 2 * th.reduce(0) { $0 + $1 * $1 }
    }

    /// Weights scaled like PyTorch's default initialisation (uniform in +-1/sqrt(fan-in)), so the
    /// ReLUs are active on a fair share of the inputs.
    func initialWeights(_ s: CNNShape, _ g: inout SeededGenerator) -> [Double] {
        let m: Matrix<Double> = g.normalMatrix(rows: 1, cols: s.parameterCount, scale: 0.3)
        return m.storage
    }

    func testParameterCountsOfTheReferenceModels() throws {
        XCTAssertEqual(CNNShape.simpleCNN(channels: 3, height: 32, width: 32).parameterCount, 62_006)
        XCTAssertEqual(CNNShape.simpleCNN(channels: 1, height: 28, width: 28).parameterCount, 44_426)
        // Forward multiply-adds of simplecnn-mnist: conv1 24*24*6*25, conv2 8*8*16*150, dense.
        XCTAssertEqual(
            CNNShape.simpleCNN(channels: 1, height: 28, width: 28).forwardFlopsPerImage,
            2 * (24 * 24 * 6 * 25 + 8 * 8 * 16 * 150 + 256 * 120 + 120 * 84 + 84 * 10))
    }

    func testLossAndLogitsMatchTheNaiveNetwork() throws {
        var g = SeededGenerator(seed: 31)
        let s = small, n = 9
        let x: Matrix<Double> = g.normalMatrix(rows: n, cols: s.inputs)
        let labels = (0..<n).map { $0 % 3 }
        let th = initialWeights(s, &g)
        let theta = try Matrix(rows: 1, cols: th.count, storage: th)
        var gr = Matrix<Double>(rows: 1, cols: th.count), l = [0.0]
        try Kernels.cnnGradients(
            shape: s, l2: 0.01, features: .dense(x), labels: labels, parameters: theta, batches: [Array(0..<n)], gradients: &gr, losses: &l)
        XCTAssertEqual(l[0], naiveLoss(s, th, x, labels, Array(0..<n), l2: 0.01), accuracy: 1e-12)
        let z = try Kernels.cnnLogits(shape: s, features: .dense(x), parameters: theta, rows: [[4, 0, 7]])
        for (q, r) in [4, 0, 7].enumerated() {
            let ref = naiveLogits(s, th, x.storage[(r * s.inputs)..<((r + 1) * s.inputs)])
            for c in 0..<3 { XCTAssertEqual(z[0][q * 3 + c], ref[c], accuracy: 1e-12) }
        }
    }

    func testGradientMatchesFiniteDifferencesOfTheNaiveLoss() throws {
        try checkFiniteDifferences(small, seed: 32, every: 1)
        try checkFiniteDifferences(wide, seed: 34, every: 7)
    }

    /// Every `every`-th parameter's gradient against central differences of the naive loss.
    func checkFiniteDifferences(_ s: CNNShape, seed: UInt64, every: Int) throws {
        var g = SeededGenerator(seed: seed)
        let n = 6
        let x: Matrix<Double> = g.normalMatrix(rows: n, cols: s.inputs)
        let labels = (0..<n).map { ($0 * 2) % 3 }
        let th = initialWeights(s, &g)
        var gr = Matrix<Double>(rows: 1, cols: th.count), l = [0.0]
        try Kernels.cnnGradients(
            shape: s, l2: 0.02, features: .dense(x), labels: labels, parameters: try Matrix(rows: 1, cols: th.count, storage: th),
            batches: [Array(0..<n)], gradients: &gr, losses: &l)
        // A kink of ReLU or max within h of a parameter's value would show as one disagreement;
        // none does at these seeds.
        var worst = 0.0
        for q in stride(from: 0, to: th.count, by: every) {
            var tp = th, tm = th
            tp[q] += 1e-6
            tm[q] -= 1e-6
            let fd = (naiveLoss(s, tp, x, labels, Array(0..<n), l2: 0.02) - naiveLoss(s, tm, x, labels, Array(0..<n), l2: 0.02)) / 2e-6
            worst = max(worst, abs(gr.storage[q] - fd) / max(1e-3, abs(fd)))
        }
        XCTAssertLessThan(worst, 1e-5, "largest relative error over every \(every) of \(th.count) parameters")
    }

    func testFloatFollowsDoubleAndEveryAgentIsItsOwnOnAnyThreadCount() throws {
        var g = SeededGenerator(seed: 33)
        let s = small, n = 300, agents = 5
        let xd: Matrix<Double> = g.normalMatrix(rows: n, cols: s.inputs)
        let xf = try Matrix<Float>(rows: n, cols: s.inputs, storage: xd.storage.map(Float.init))
        let labels = (0..<n).map { ($0 * 7) % 3 }
        let thetaD: Matrix<Double> = g.normalMatrix(rows: agents, cols: s.parameterCount, scale: 0.3)
        let thetaF = try Matrix<Float>(rows: agents, cols: s.parameterCount, storage: thetaD.storage.map(Float.init))
        // Batch sizes around the chunk (128): 1, 64, 128, 129 and 300 images.
        let sizes = [1, 64, 128, 129, 300]
        let batches = sizes.enumerated().map { a, b in (0..<b).map { (a * 37 + $0 * 11) % n } }
        var gd = Matrix<Double>(rows: agents, cols: s.parameterCount), ld = [Double](repeating: 0, count: agents)
        try Kernels.cnnGradients(
            shape: s, l2: 0, features: .dense(xd), labels: labels, parameters: thetaD, batches: batches, gradients: &gd, losses: &ld)
        var results: [(Matrix<Float>, [Float])] = []
        for threads in [1, 2] {
            var gf = Matrix<Float>(rows: agents, cols: s.parameterCount), lf = [Float](repeating: 0, count: agents)
            try withThreads(threads) {
                try Kernels.cnnGradients(
                    shape: s, l2: 0, features: .dense(xf), labels: labels, parameters: thetaF, batches: batches, gradients: &gf, losses: &lf
                )
            }
            results.append((gf, lf))
        }
        XCTAssertEqual(results[0].0, results[1].0, "gradients differ between 1 and 2 threads")
        XCTAssertEqual(results[0].1, results[1].1)
        let (gf, lf) = results[0]
        for a in 0..<agents {
            XCTAssertEqual(Double(lf[a]), ld[a], accuracy: 1e-5 * max(1, ld[a]))
            let scale = gd.row(a).map(abs).max()!
            for q in 0..<s.parameterCount { XCTAssertEqual(Double(gf.row(a)[q]), gd.row(a)[q], accuracy: 1e-4 * scale) }
            // Agent a alone gives the same numbers as among the others.
            var ga = Matrix<Float>(rows: 1, cols: s.parameterCount), la: [Float] = [0]
            try Kernels.cnnGradients(
                shape: s, l2: 0, features: .dense(xf), labels: labels,
                parameters: try Matrix(rows: 1, cols: s.parameterCount, storage: thetaF.row(a)), batches: [batches[a]], gradients: &ga,
                losses: &la)
            XCTAssertEqual(ga.storage, gf.row(a))
        }
        // The 300-image batch is the mean of its chunks' gradients (128 + 128 + 44), each its own call.
        let b300 = batches[4]
        var sum = [Double](repeating: 0, count: s.parameterCount)
        for part in [b300[0..<128], b300[128..<256], b300[256...]] {
            var gp = Matrix<Double>(rows: 1, cols: s.parameterCount), lp = [0.0]
            try Kernels.cnnGradients(
                shape: s, l2: 0, features: .dense(xd), labels: labels,
                parameters: try Matrix(rows: 1, cols: s.parameterCount, storage: thetaD.row(4)),
                batches: [Array(part)], gradients: &gp, losses: &lp)
            for q in sum.indices { sum[q] += gp.storage[q] * Double(part.count) / 300 }
        }
        for q in sum.indices { XCTAssertEqual(sum[q], gd.row(4)[q], accuracy: 1e-12) }
    }

    func testBadShapesThrowAndNameTheMismatch() throws {
        let s = small
        let x = Matrix<Float>(rows: 4, cols: s.inputs)
        let theta = Matrix<Float>(rows: 1, cols: s.parameterCount)
        var gr = theta, l: [Float] = [0]
        func message(_ body: () throws -> Void) -> String {
            do { try body() } catch { return "\(error)" }
            return "no error"
        }
        XCTAssertTrue(
            message {
                try Kernels.cnnGradients(
                    shape: s, l2: 0, features: .dense(Matrix(rows: 4, cols: 10)), labels: [0, 1, 2, 0], parameters: theta, batches: [[0]],
                    gradients: &gr, losses: &l)
            }.contains("rows of 10 features for 2 x 11 x 10 images"))
        XCTAssertTrue(
            message {
                try Kernels.cnnGradients(
                    shape: s, l2: 0, features: .dense(x), labels: [0, 1, 5, 0], parameters: theta, batches: [[0]], gradients: &gr,
                    losses: &l)
            }.contains("label 5 outside 0..<3"))
        XCTAssertTrue(
            message {
                try Kernels.cnnGradients(
                    shape: s, l2: 0, features: .dense(x), labels: [0, 1, 2, 0], parameters: Matrix(rows: 1, cols: 7), batches: [[0]],
                    gradients: &gr, losses: &l)
            }.contains("must be agents x \(s.parameterCount)"))
        var tooSmall = s
        tooSmall.convolutions.append(.init(channels: 2, kernel: 3))
        XCTAssertTrue(
            message {
                try Kernels.cnnGradients(
                    shape: tooSmall, l2: 0, features: .dense(x), labels: [0, 1, 2, 0], parameters: theta, batches: [[0]], gradients: &gr,
                    losses: &l)
            }.contains("convolution 3"))
        XCTAssertTrue(
            message {
                try Kernels.cnnGradients(
                    shape: s, l2: 0, features: .dense(x), labels: [0, 1, 2, 0], parameters: theta, batches: [[9]], gradients: &gr,
                    losses: &l)
            }.contains("names row 9"))
        // Sizes whose layer arithmetic would overflow are refused before any is computed.
        let huge = CNNShape(
            channels: 1 << 20, height: 1 << 20, width: 1 << 20, convolutions: [.init(channels: 1 << 20, kernel: 3)], hidden: [1 << 20],
            classes: 10)
        XCTAssertTrue(message { try huge.validate() }.contains("the network is too large"))
    }
}
