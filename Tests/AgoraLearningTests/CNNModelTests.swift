import AgoraKernels
import AgoraLearning
import AgoraTestSupport
import Foundation
import XCTest

/// `ModelFamily.cnn`: evaluation, prediction and the many-models accuracy agree with the kernels
/// they are built on, and the initialisation is PyTorch's default.
final class CNNModelTests: XCTestCase {
    let shape = CNNShape(
        channels: 1, height: 12, width: 12, convolutions: [.init(channels: 4, kernel: 3), .init(channels: 5, kernel: 3, padding: 1)],
        hidden: [8], classes: 3)

    func images(_ n: Int, seed: UInt64) -> Dataset {
        var g = SeededGenerator(seed: seed)
        let x: Matrix<Float> = g.normalMatrix(rows: n, cols: shape.inputs)
        return Dataset(name: "images", features: .dense(x), labels: (0..<n).map { $0 % 3 }, labelNames: ["a", "b", "c"])
    }

    func testEvaluationPredictionAndAccuraciesAgreeWithTheKernels() throws {
        let data = images(70, seed: 3)
        let model = ModelFamily.cnn(shape, l2: 0.01)
        var rng = SeededGenerator(seed: 4)
        let thetas = try Matrix(
            rows: 3, cols: shape.parameterCount,
            storage: (0..<3).flatMap { _ in model.initialParameters(features: shape.inputs, using: &rng) })
        let theta = thetas.row(1)
        let (loss, accuracy) = try model.evaluate(theta, data: data)
        // The loss from the gradient kernel on all rows.
        var g = Matrix<Float>(rows: 1, cols: shape.parameterCount), l: [Float] = [0]
        try Kernels.cnnGradients(
            shape: shape, l2: 0.01, features: data.features, labels: data.labels,
            parameters: Matrix(rows: 1, cols: theta.count, storage: theta),
            batches: [Array(0..<70)], gradients: &g, losses: &l)
        XCTAssertEqual(loss, Double(l[0]), accuracy: 1e-5 * max(1, loss))
        // Accuracy from the predictions, counted here.
        let rows = Array(0..<70)
        let predicted = try model.predict(theta, features: data.features, rows: rows)
        XCTAssertEqual(accuracy, Double(rows.filter { predicted[$0] == data.labels[$0] }.count) / 70, accuracy: 1e-12)
        // Every model at once equals one at a time, on a subset of rows.
        let subset = Array(stride(from: 1, to: 70, by: 3))
        let all = try model.accuracies(thetas, features: data.features, labels: data.labels, rows: subset)
        for a in 0..<3 {
            XCTAssertEqual(
                all[a], try model.accuracy(thetas.row(a), features: data.features, labels: data.labels, rows: subset), accuracy: 1e-12)
        }
        XCTAssertEqual(model.parameterCount(features: shape.inputs), shape.parameterCount)
    }

    func testInitialisationIsUniformWithinTheFanInBound() throws {
        let model = ModelFamily.cnn(.simpleCNN(channels: 1, height: 28, width: 28), l2: 0)
        var rng = SeededGenerator(seed: 9)
        let theta = model.initialParameters(features: 784, using: &rng)
        XCTAssertEqual(theta.count, 44_426)
        for (range, fanIn) in CNNShape.simpleCNN(channels: 1, height: 28, width: 28).layerRanges {
            let bound = Float(1 / Double(fanIn).squareRoot())
            let values = theta[range]
            XCTAssertLessThanOrEqual(values.map(abs).max()!, bound)
            // Uniform on [-b, b]: the largest magnitude comes near b, the mean near 0.
            XCTAssertGreaterThan(values.map(abs).max()!, 0.9 * bound)
            XCTAssertLessThan(abs(values.reduce(0, +) / Float(values.count)), 0.2 * bound)
        }
        XCTAssertEqual(CNNShape.simpleCNN(channels: 1, height: 28, width: 28).layerRanges.map(\.fanIn), [25, 150, 256, 120, 84])
        // The linear models keep their N(0, 0.01^2) start.
        var r1 = SeededGenerator(seed: 9), r2 = SeededGenerator(seed: 9)
        XCTAssertEqual(
            ModelFamily.softmax(classes: 3, l2: 0).initialParameters(features: 4, using: &r1),
            (0..<12).map { _ in Float(r2.normal() * 0.01) })
    }

    func testClassifierChoosesTheNetworkAndRefusesImagesThatDoNotFit() throws {
        let mnistLike = Dataset(
            name: "m", features: .dense(Matrix(rows: 2, cols: 784)), labels: [0, 1], labelNames: (0..<10).map(String.init))
        XCTAssertEqual(
            try ModelFamily.classifier(for: mnistLike, network: .simplecnnMNIST, l2: 1e-5),
            .cnn(.simpleCNN(channels: 1, height: 28, width: 28, classes: 10), l2: 1e-5))
        XCTAssertThrowsError(try ModelFamily.classifier(for: mnistLike, network: .simplecnn, l2: 0)) { e in
            XCTAssertTrue("\(e)".contains("simplecnn takes 3 x 32 x 32 images (3072 features); the data has 784"), "\(e)")
        }
    }
}
