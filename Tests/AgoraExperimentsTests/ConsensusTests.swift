import AgoraExperiments
import AgoraKernels
import AgoraTopology
import XCTest

final class ConsensusTests: XCTestCase {
    func testConsensusFollowsTheSpectralBound() throws {
        var e = ConsensusExperiment()
        e.topology = .ring
        e.agents = 24
        e.dimension = 37
        e.steps = 40
        let r = try e.run()
        XCTAssertEqual(r.steps.count, 41)
        for s in r.steps {
            XCTAssertLessThanOrEqual(s.relativeError, s.spectralBound! * (1 + 1e-3) + 1e-6, "step \(s.step)")
            XCTAssertLessThan(s.meanDrift, 1e-5, "mixing with doubly stochastic W preserves the mean")
        }
        XCTAssertLessThan(r.steps.last!.relativeError, 0.5)
        // The time-varying schedule averages exactly after one period when n is a power of two.
        e.topology = .onePeerExponential
        e.agents = 16
        e.steps = 4
        XCTAssertLessThan(try e.run().steps.last!.relativeError, 1e-10)
        // Sparse and dense kernels agree.
        e.topology = .complete
        e.agents = 12
        e.steps = 2
        e.strategy = .sparse
        let a = try e.run()
        e.strategy = .dense
        let b = try e.run()
        XCTAssertTrue(b.usesGEMM && !a.usesGEMM)
        XCTAssertEqual(a.steps[1].consensusError, b.steps[1].consensusError, accuracy: 1e-6 * a.steps[0].consensusError)
        e.agents = 0
        XCTAssertThrowsError(try e.run()) { XCTAssertTrue("\($0)".contains("agents must be at least 1")) }
    }
}
