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
