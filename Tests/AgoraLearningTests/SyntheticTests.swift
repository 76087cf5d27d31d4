import AgoraKernels
import AgoraLearning
import AgoraTestSupport
import XCTest

final class SyntheticTests: XCTestCase {
    func localOptimaSpread(_ h: Double) throws -> Double {
        var p = SyntheticProblem()
        p.loss = .squared
        p.agents = 2
        p.rowsPerAgent = 400
        p.features = 8
        p.heterogeneity = h
        p.noise = 0.01
        p.seed = 3
        let (data, parts) = try p.generate()
        let model = LinearModel(loss: .squared, l2: 1e-6)
        guard case let .dense(x) = data.features else {
            XCTFail("dense")
            return 0
        }
        var thetas: [[Double]] = []
        for rows in parts {
            let sub = try Matrix<Double>(rows: rows.count, cols: 8, storage: rows.flatMap { r in x.row(r).map(Double.init) })
            let y = rows.map { data.targets![$0] }
            thetas.append(try ReferenceSolver.solve(model, features: .dense(sub), targets: y).theta)
        }
        return zip(thetas[0], thetas[1]).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
    }

    func testHeterogeneityKnobSeparatesLocalOptima() throws {
        let iid = try localOptimaSpread(0), het = try localOptimaSpread(2)
        XCTAssertLessThan(iid, 0.05)
        XCTAssertGreaterThan(het, 10 * iid)
    }

    func testSeededAndShaped() throws {
        var p = SyntheticProblem()
        p.agents = 4
        p.rowsPerAgent = 30
        p.features = 5
        let (a, parts) = try p.generate()
        let (b, _) = try p.generate()
        XCTAssertEqual(a.rows, 120)
        XCTAssertEqual(a.features.cols, 5)
        XCTAssertEqual(a.classes, 2)
        XCTAssertEqual(parts.map(\.count), [30, 30, 30, 30])
        XCTAssertEqual(a.labels, b.labels)
        guard case let .dense(xa) = a.features, case let .dense(xb) = b.features else { return XCTFail("dense") }
        XCTAssertEqual(xa, xb)
        p.seed = 2
        XCTAssertNotEqual(try p.generate().data.labels, a.labels)
        p.agents = 0
        XCTAssertThrowsError(try p.generate()) { XCTAssertTrue("\($0)".contains("agents must be at least 1")) }
    }
}
