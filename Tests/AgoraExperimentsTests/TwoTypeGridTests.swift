import AgoraExperiments
import AgoraMechanisms
import Foundation
import XCTest

final class TwoTypeGridTests: XCTestCase {
    /// A corner of the paper's two-type grid: where both IRs bind, m_1 = (f_2 - f_1) / (c_1 - c_2)
    /// (890.4920, a closed form independent of N); the CSV has one row per point in N-major order
    /// with the solver's own numbers; the extremes are found where they are.
    func testSmallGridMatchesTheClosedFormAndItsTable() throws {
        var grid = TwoTypeGrid()
        grid.participants = [2, 4]
        grid.shares = [0.01, 0.48, 0.99]
        let r = try grid.run()
        XCTAssertEqual(r.points.map(\.participants), [2, 2, 2, 4, 4, 4])
        XCTAssertEqual(r.points.map(\.share), [0.01, 0.48, 0.99, 0.01, 0.48, 0.99])
        let closedForm = (grid.reservationUtilities[1] - grid.reservationUtilities[0]) / (grid.costs[0] - grid.costs[1])
        XCTAssertEqual(closedForm, 890.4920, accuracy: 1e-4)
        var binding = 0
        for p in r.points {
            // Each point is the designer's own solution of that setting.
            let menu = try ContractDesigner(
                ContractSetting(
                    participants: p.participants, probabilities: [p.share, 1 - p.share], costs: grid.costs,
                    reservationUtilities: grid.reservationUtilities)
            ).solve()
            XCTAssertEqual(p.contributions, menu.contributions)
            XCTAssertEqual(p.lowCostRent, menu.rents[1])
            // u_1 = f_1 binds; where the low-cost type's IR binds too (no rent), m_1 is the closed form.
            XCTAssertEqual(
                p.values[0] - grid.costs[0] * p.contributions[0], grid.reservationUtilities[0], accuracy: 1e-6,
                "the high-cost type's IR binds")
            if p.lowCostRent < 1e-7 {
                binding += 1
                XCTAssertEqual(p.contributions[0], closedForm, accuracy: 1e-4)
            }
        }
        XCTAssertGreaterThan(binding, 0, "the closed form must be checked at some point of this corner")
        XCTAssertEqual(r.minimumInformationCost.informationCost, r.points.map(\.informationCost).min()!)
        XCTAssertEqual(r.maximumLowCostRent.lowCostRent, r.points.map(\.lowCostRent).max()!)
        let rows = r.table.text.split(separator: "\n")
        XCTAssertEqual(rows.first, "N,p1,m1,m2,t1,t2,information_cost,rent2,kkt")
        XCTAssertEqual(rows.count, 7)
        XCTAssertEqual(Double(rows[2].split(separator: ",")[2]), r.points[1].contributions[0])
        let folder = NSTemporaryDirectory() + "agora-two-type-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try r.write(to: folder)
        for f in ["grid.csv", "m1.svg", "m2.svg", "t2.svg", "information_cost.svg", "rent2.svg"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: folder + "/" + f), f)
        }
    }
}
