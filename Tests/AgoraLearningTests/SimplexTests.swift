import AgoraKernels
import AgoraLearning
import AgoraTestSupport
import XCTest

final class SimplexTests: XCTestCase {
    func testSimplexProjection() {
        var g = SeededGenerator(seed: 2)
        for n in [1, 2, 5, 40] {
            for _ in 0..<50 {
                let v = (0..<n).map { _ in 3 * g.normal() }
                let x = projectOntoSimplex(v)
                XCTAssertEqual(x.reduce(0, +), 1, accuracy: 1e-12)
                XCTAssertTrue(x.allSatisfy { $0 >= 0 })
                // KKT: on the support x = v - tau with one tau; off it v <= tau.
                let support = x.indices.filter { x[$0] > 0 }
                let tau = v[support[0]] - x[support[0]]
                for i in support { XCTAssertEqual(v[i] - x[i], tau, accuracy: 1e-12) }
                for i in x.indices where x[i] == 0 { XCTAssertLessThanOrEqual(v[i], tau + 1e-12) }
            }
        }
        XCTAssertEqual(projectOntoSimplex([0.2, 0.3, 0.5]), [0.2, 0.3, 0.5])
    }
}
