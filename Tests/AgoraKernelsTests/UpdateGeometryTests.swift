import AgoraKernels
import AgoraTestSupport
import XCTest

final class UpdateGeometryTests: XCTestCase {
    func testUpdateGeometryMatchesNaiveCosines() throws {
        var g = SeededGenerator(seed: 5)
        let x: Matrix<Double> = g.normalMatrix(rows: 7, cols: 37)
        let origin = (0..<37).map { _ in g.normal() }
        var xz = x
        for k in 0..<37 { xz[3, k] = origin[k] }  // a zero update
        let geo = try Kernels.updateGeometry(xz, origin: origin)
        for i in 0..<7 {
            for j in 0..<7 {
                let ui = (0..<37).map { xz[i, $0] - origin[$0] }, uj = (0..<37).map { xz[j, $0] - origin[$0] }
                let dot = zip(ui, uj).reduce(0) { $0 + $1.0 * $1.1 }
                let ni = ui.reduce(0) { $0 + $1 * $1 }.squareRoot(), nj = uj.reduce(0) { $0 + $1 * $1 }.squareRoot()
                let expect = i == j ? 1 : (ni == 0 || nj == 0 ? 0 : dot / (ni * nj))
                XCTAssertEqual(geo.cosines[i, j], expect, accuracy: 1e-13)
                if i == j { XCTAssertEqual(geo.norms[i], ni, accuracy: 1e-12) }
            }
        }
        XCTAssertThrowsError(try Kernels.updateGeometry(x, origin: [1, 2]))
    }
}
