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

    /// The generator draws its uniforms in sequence and transforms them in parallel chunks of
    /// agents; its data must be the plain one-stream loop's (written out here) bit for bit, for
    /// both losses, clustered agents, several chunks and on 1 and 2 threads.
    func testParallelGenerationEqualsThePlainLoopBitForBit() throws {
        func plain(_ p: SyntheticProblem) -> (x: [Float], labels: [Int], targets: [Double]) {
            let d = p.features, n = p.agents * p.rowsPerAgent
            var rng = SeededGenerator(seed: p.seed, stream: 0x5E7)
            let s = 1 / Double(d).squareRoot()
            let star = (0..<d).map { _ in rng.normal() * s }
            var x = [Float](repeating: 0, count: n * d), labels = [Int](repeating: 0, count: n)
            var targets = [Double](repeating: 0, count: n)
            let groups = p.clusters ?? 0
            var clusterRNG = SeededGenerator(seed: p.seed, stream: 0xC105)
            let shared: [([Double], [Double])] = (0..<groups).map { _ in
                (
                    star.map { $0 + p.heterogeneity * clusterRNG.normal() * s },
                    (0..<d).map { _ in p.heterogeneity * clusterRNG.normal() * s }
                )
            }
            for a in 0..<p.agents {
                let theta: [Double], mu: [Double]
                if groups > 0 {
                    (theta, mu) = shared[a % groups]
                } else {
                    theta = star.map { $0 + p.heterogeneity * rng.normal() * s }
                    mu = (0..<d).map { _ in p.heterogeneity * rng.normal() * s }
                }
                for r in 0..<p.rowsPerAgent {
                    let i = a * p.rowsPerAgent + r
                    var z = 0.0
                    for k in 0..<d {
                        let v = mu[k] + rng.normal()
                        x[i * d + k] = Float(v)
                        z += Double(Float(v)) * theta[k]
                    }
                    if p.loss == .squared {
                        targets[i] = z + p.noise * rng.normal()
                    } else {
                        labels[i] = rng.uniform() < 1 / (1 + exp(-p.scale * z)) ? 1 : 0
                    }
                }
            }
            return (x, labels, targets)
        }
        for (loss, clusters, agents) in [(GLMLoss.logistic, nil, 400), (.squared, nil, 170), (.logistic, 3, 350)] as [(GLMLoss, Int?, Int)]
        {
            var p = SyntheticProblem()
            p.loss = loss
            p.clusters = clusters
            p.agents = agents
            p.rowsPerAgent = 200  // 163 agents per chunk: two or three chunks, the last one short
            p.features = 5
            p.seed = 11
            let reference = plain(p)
            for threads in [1, 2] {
                let old = ThreadPool.shared.threads
                ThreadPool.shared.threads = threads
                defer { ThreadPool.shared.threads = old }
                let (data, _) = try p.generate()
                guard case let .dense(x) = data.features else { return XCTFail("dense") }
                let label = "\(loss) clusters \(clusters ?? 0) on \(threads) threads"
                XCTAssertEqual(x.storage, reference.x, label)
                if loss == .squared {
                    XCTAssertEqual(data.targets, reference.targets, label)
                } else {
                    XCTAssertEqual(data.labels, reference.labels, label)
                }
            }
        }
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
