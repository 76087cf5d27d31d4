import AgoraKernels
import AgoraTestSupport
import XCTest

@testable import AgoraLearning

final class ModelTests: XCTestCase {
    func testGradientsMatchFiniteDifferences() throws {
        let (dense, sparse, y) = randomClassification(rows: 40, cols: 19, seed: 1)
        var g = SeededGenerator(seed: 9)
        let theta = (0..<19).map { _ in 0.3 * g.normal() }
        for loss in [GLMLoss.logistic, .squared] {
            let model = LinearModel(loss: loss, l2: 0.01)
            for x in [FeatureRows<Double>.dense(dense), .sparse(sparse)] {
                let (_, grad, _) = try model.evaluate(theta, features: x, targets: y)
                for k in [0, 7, 18] {
                    var tp = theta, tm = theta
                    tp[k] += 1e-6
                    tm[k] -= 1e-6
                    let fd =
                        (try model.evaluate(tp, features: x, targets: y).value - model.evaluate(tm, features: x, targets: y).value) / 2e-6
                    XCTAssertEqual(grad[k], fd, accuracy: 1e-7, "\(loss) feature \(k)")
                }
            }
        }
    }

    func testReferenceSolverOnA9A() throws {
        let d = try LIBSVMReader.read(path: try sharedData("libsvm/a9a"), features: 123)
        let model = LinearModel(loss: .logistic, l2: 1e-4)
        let r = try ReferenceSolver.solve(model, features: d.features.double, targets: try model.targets(d))
        XCTAssertLessThan(r.gradientNorm, 1e-8)
        XCTAssertLessThan(r.iterations, 30)
        let (_, _, acc) = try model.evaluate(r.theta, features: d.features.double, targets: try model.targets(d))
        XCTAssertGreaterThan(acc!, 0.84, "a9a logistic regression reaches about 85 % training accuracy")
        XCTAssertThrowsError(
            try model.targets(
                Dataset(name: "three", features: .dense(Matrix(rows: 3, cols: 1)), labels: [0, 1, 2], labelNames: ["a", "b", "c"])))
    }

    /// Every model's accuracy on shared rows at once (a GEMM on dense rows, one `blockDots` on
    /// sparse ones) equals `accuracy` model by model (linear, softmax with ties broken to the first
    /// class, MLP; NaN parameters): random scores are never within rounding of a tie.
    func testAccuraciesOfManyModelsEqualOneByOne() throws {
        let (dense, sparse, _) = randomClassification(rows: 60, cols: 9, seed: 5)
        var g = SeededGenerator(seed: 17)
        let labels3 = (0..<60).map { $0 % 3 }, labels2 = (0..<60).map { $0 % 2 }
        let families: [(ModelFamily, [Int])] = [
            (.linear(LinearModel(loss: .logistic, l2: 0)), labels2), (.softmax(classes: 3, l2: 0), labels3),
            (.mlp(MLPShape(inputs: 9, hidden: 4, classes: 3), l2: 0), labels3),
        ]
        for (family, labels) in families {
            let p = family.parameterCount(features: 9)
            var thetas = Matrix<Float>(rows: 5, cols: p)
            for a in 0..<5 { for c in 0..<p { thetas[a, c] = a == 3 ? 0 : Float(g.normal()) } }  // model 3: all ties
            thetas[4, 0] = .nan
            let rows = Array(stride(from: 1, to: 60, by: 2))
            let denseF = try Matrix<Float>(rows: dense.rows, cols: dense.cols, storage: dense.storage.map(Float.init))
            for x in [FeatureRows<Float>.dense(denseF), .sparse(sparse.converted(to: Float.self))] {
                let all = try family.accuracies(thetas, features: x, labels: labels, rows: rows)
                for a in 0..<5 {
                    let one = try family.accuracy(thetas.row(a), features: x, labels: labels, rows: rows)
                    XCTAssertTrue(all[a] == one, "\(family) model \(a): \(all[a]) against \(one)")
                }
                XCTAssertTrue(try family.accuracies(thetas, features: x, labels: labels, rows: []).allSatisfy(\.isNaN))
            }
        }
    }

    func testDenseAndSparseAgree() throws {
        let (dense, sparse, y) = randomClassification(rows: 50, cols: 21, seed: 3)
        let model = LinearModel(loss: .logistic, l2: 0.1)
        let theta = (0..<21).map { Double($0) / 40 - 0.25 }
        let a = try model.evaluate(theta, features: .dense(dense), targets: y)
        let b = try model.evaluate(theta, features: .sparse(sparse), targets: y)
        XCTAssertEqual(a.value, b.value, accuracy: 1e-12)
        for k in 0..<21 { XCTAssertEqual(a.gradient[k], b.gradient[k], accuracy: 1e-12) }
        XCTAssertEqual(a.accuracy, b.accuracy)
    }
}

/// Newton-CG (wide data) against the direct Newton solve on the same problems.
final class NewtonCGTests: XCTestCase {
    func testNewtonCGReachesTheDirectOptimumDenseAndSparse() throws {
        let (dense, sparse, y) = randomClassification(rows: 300, cols: 40, seed: 11)
        for loss in [GLMLoss.logistic, .squared] {
            let model = LinearModel(loss: loss, l2: 1e-2)
            for x in [FeatureRows<Double>.dense(dense), .sparse(sparse)] {
                let direct = try ReferenceSolver.solve(model, features: x, targets: y)
                var steps = 0
                let cg = try ReferenceSolver.newtonCG(model, features: x, targets: y, tolerance: 1e-11, maxIterations: 200) { _, _ in
                    steps += 1
                }
                XCTAssertLessThan(cg.gradientNorm, 1e-9, "\(loss)")
                XCTAssertEqual(cg.fStar, direct.fStar, accuracy: 1e-12 * max(1, abs(direct.fStar)), "\(loss)")
                for k in 0..<40 { XCTAssertEqual(cg.theta[k], direct.theta[k], accuracy: 1e-7) }
                XCTAssertGreaterThan(steps, 1, "progress is reported")
            }
        }
    }

    func testHessianVectorProductMatchesTheFormedHessian() throws {
        let (dense, sparse, _) = randomClassification(rows: 50, cols: 12, seed: 12)
        var g = SeededGenerator(seed: 13)
        let w = (0..<50).map { _ in g.uniform() }, v = (0..<12).map { _ in g.normal() }
        for x in [FeatureRows<Double>.dense(dense), .sparse(sparse)] {
            let h = try Kernels.weightedGram(x, rowWeights: w, divisor: 50, ridge: 0.3)
            let hv = try Kernels.weightedGramTimes(x, rowWeights: w, divisor: 50, ridge: 0.3, v)
            for a in 0..<12 {
                let expected = (0..<12).reduce(0.0) { $0 + h[a, $1] * v[$1] }
                XCTAssertEqual(hv[a], expected, accuracy: 1e-12)
            }
        }
    }
}
