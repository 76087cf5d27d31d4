import Foundation
import XCTest

/// `agora dsgd horizon`, `agora dsgd equilibrium` and `--c0 auto` as users run them: the built
/// binary, its JSON on stdout, the files under --out, and exit codes on bad input.
extension RobustnessTests {
    static let smallDSGD = ["--agents", "4", "--topology", "ring", "--rows", "30", "--features", "4", "--batch", "4"]

    func jsonObject(_ text: String) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
    }

    func testHorizonCommandWritesItsSchemaAndFiles() throws {
        let out = scratch + "/horizon"
        let r = try run(
            ["dsgd", "horizon"] + Self.smallDSGD + [
                "--horizons", "40,80,160", "--family", "inflate:2,free-ride",
                "--c0", "auto", "--json", "--out", out,
            ])
        XCTAssertEqual(r.status, 0, r.stderr)
        let j = try jsonObject(r.stdout)
        XCTAssertEqual(j["horizons"] as? [Int], [40, 80, 160])
        for key in ["epsilonWithPayments", "epsilonWithoutPayments", "honestTransferMax", "reportLoweringWithPayments"] {
            let v = try XCTUnwrap(j[key] as? [Double], "\(key) in \(r.stdout)")
            XCTAssertEqual(v.count, 3, key)
        }
        XCTAssertTrue((j["epsilonWithPayments"] as! [Double]).allSatisfy { $0 >= 0 }, "truthful play is in the family")
        XCTAssertGreaterThan(j["c0"] as? Double ?? 0, 0)
        for f in ["result.json", "config.json", "summary.json", "horizon.csv", "curves.csv", "horizon.svg"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/" + f), f)
        }
        let csv = try String(contentsOfFile: out + "/horizon.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(csv.count, 4, "a header and one row per horizon")
        XCTAssertTrue(csv[0].hasPrefix("horizon,epsilon_with_payments,"))
        let curves = try String(contentsOfFile: out + "/curves.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(curves.count, 1 + 2 * 3, "one row per deviation and horizon")
        // The saved config reproduces the study's experiment with the calibrated C_0 in it.
        let config = try jsonObject(try String(contentsOfFile: out + "/config.json", encoding: .utf8))
        let mech = try XCTUnwrap(config["mechanism"] as? [String: Any])
        let pay = try XCTUnwrap((mech["payments"] as? [String: Any])?["coefficient"] as? [String: Any])
        XCTAssertEqual(pay["initial"] as? Double ?? -1, j["c0"] as? Double ?? -2, accuracy: 0)
    }

    func testEquilibriumAndCalibratedRunsAnswerInJSON() throws {
        let r = try run(
            ["dsgd", "equilibrium"] + Self.smallDSGD + ["--iterations", "100", "--family", "inflate:2", "--rounds", "2", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let j = try jsonObject(r.stdout)
        for key in ["allTruthful", "withPayments", "withoutPayments"] {
            let o = try XCTUnwrap(j[key] as? [String: Any], key)
            XCTAssertEqual((o["profile"] as? [String])?.count, 4, key)
            XCTAssertNotNil(o["gap"] as? Double, key)
        }
        XCTAssertEqual((j["allTruthful"] as! [String: Any])["deviators"] as? Int, 0)
        let auto = try run(["dsgd"] + Self.smallDSGD + ["--iterations", "160", "--inflate", "1:2", "--c0", "auto", "--json"])
        XCTAssertEqual(auto.status, 0, auto.stderr)
        let s = try jsonObject(auto.stdout)
        XCTAssertNotNil(s["honestTransferPerIteration"] as? Double)
        // Calibrated payments deter the inflating agent in its own run (gain <= 0 with payments).
        let gain = try XCTUnwrap((s["strategic"] as? [[String: Any]])?.first?["gainWithPayments"] as? Double)
        XCTAssertLessThanOrEqual(gain, 0, auto.stdout)
    }

    func testStudyFlagsAreValidated() throws {
        try expectRefusal(["dsgd", "horizon", "--horizons", "100,abc"], "not an iteration count")
        try expectRefusal(["dsgd", "horizon", "--horizons", "100,100"], "listed twice")
        try expectRefusal(["dsgd", "horizon", "--deviators", "9", "--agents", "4"], "deviating agents")
        try expectRefusal(["dsgd", "horizon", "--family", "inflate"], "inflate with 1 number")
        try expectRefusal(["dsgd", "horizon", "--family", "bribe:3"], "unknown deviation")
        try expectRefusal(["dsgd", "horizon", "--family", "inflate:0.5"], "alpha")
        try expectRefusal(["dsgd", "--c0", "cheap"], "--c0 must be a positive number or 'auto'")
        try expectRefusal(["dsgd", "--c0", "-1"], "--c0")
        try expectRefusal(
            ["dsgd", "--utility", "happiness"],
            "is invalid for '--utility <utility>'. Please provide one of 'final', 'average' or 'cumulative'")
        try expectRefusal(["dsgd", "equilibrium", "--rounds", "0"], "rounds")
        try expectRefusal(["dsgd", "--c0", "auto", "--pilot", "1"], "--pilot")
    }
}
