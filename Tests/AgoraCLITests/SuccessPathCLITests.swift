import AgoraTestSupport
import Foundation
import XCTest

/// Commands that succeed, checked by the values they print (not only their exit codes), and the
/// interrupted and resumed runs users depend on on a cluster.
extension RobustnessTests {
    func jsonObject(_ text: String, _ label: String) throws -> [String: Any] {
        let value = try JSONSerialization.jsonObject(with: Data(text.utf8))
        return try XCTUnwrap(value as? [String: Any], "\(label): not a JSON object")
    }

    /// An in-process run stopped at a checkpoint and resumed from it prints the uninterrupted run's
    /// numbers and writes its metrics byte for byte.
    func testInProcessResumeEqualsTheUninterruptedRun() throws {
        let args = [
            "dsgd", "--agents", "6", "--topology", "ring", "--rows", "30", "--features", "4", "--iterations", "40",
            "--inflate", "1:2", "--noise", "3:0.5",
        ]
        let base = try run(args + ["--json", "--out", scratch + "/base"])
        XCTAssertEqual(base.status, 0, base.stderr)
        let out = scratch + "/stopped"
        let stop = try run(args + ["--out", out, "--checkpoint-every", "10", "--stop-after", "50"])
        XCTAssertEqual(stop.status, 0, stop.stderr)
        XCTAssertTrue(stop.stdout.contains("stopped after 50 iterations"), stop.stdout)
        let resumed = try run(["dsgd", "--resume", out + "/checkpoint.json", "--out", out, "--checkpoint-every", "10", "--json"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        var a = try jsonObject(base.stdout, "uninterrupted"), b = try jsonObject(resumed.stdout, "resumed")
        // The resumed run does not calibrate again: its C_0 (`c0`) is the checkpoint's.
        XCTAssertNotNil(FileManager.default.contents(atPath: scratch + "/base/calibration.json"))
        XCTAssertEqual(a["c0"] as? Double, b["c0"] as? Double)
        for key in ["secondsPerIteration", "timing"] {
            a[key] = nil
            b[key] = nil
        }
        XCTAssertEqual(NSDictionary(dictionary: a), NSDictionary(dictionary: b))
        XCTAssertEqual(
            FileManager.default.contents(atPath: scratch + "/base/metrics.jsonl"),
            FileManager.default.contents(atPath: out + "/metrics.jsonl"))
    }

    /// On --resume, any experiment flag that differs from the checkpoint's configuration is refused,
    /// also when it equals the flag's default (it used to be dropped silently).
    func testResumeRefusesAFlagEqualToItsDefault() throws {
        let out = scratch + "/ck-default"
        let stop = try run([
            "dsgd", "--agents", "8", "--topology", "ring", "--iterations", "60", "--checkpoint-every", "20", "--stop-after", "20",
            "--out", out,
        ])
        XCTAssertEqual(stop.status, 0, stop.stderr)
        let path = out + "/checkpoint.json"
        try expectRefusal(["dsgd", "--resume", path, "--iterations", "1000"], "--iterations")
        try expectRefusal(["dsgd", "--resume", path, "--agents=16"], "--agents")
        let same = try run(["dsgd", "--resume", path, "--agents", "8", "--topology", "ring", "--iterations", "60", "--json"])
        XCTAssertEqual(same.status, 0, "the checkpoint's own flags resume: \(same.stderr)")
        XCTAssertEqual(try jsonObject(same.stdout, "resume")["iterations"] as? Int, 60)
    }

    /// A run killed (SIGKILL) while it writes checkpoints leaves no temporary file in its output
    /// folder, and the checkpoint there is complete and resumable.
    func testAKilledRunLeavesNoTemporaryFiles() throws {
        guard let binary = Self.binary else { throw missingResource("the agora binary is not built (swift build first)") }
        let out = scratch + "/killed"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = [
            "dsgd", "--agents", "64", "--topology", "ring", "--iterations", "1000000", "--c0", "1e-4", "--checkpoint-every", "1", "--out",
            out,
        ]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        // Wait for the first checkpoint (60 s at most: a hang guard), then let it write a few more.
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: out + "/checkpoint.json") && Date() < deadline && p.isRunning { usleep(10_000) }
        usleep(200_000)
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .uncaughtSignal)
        let entries = try FileManager.default.contentsOfDirectory(atPath: out)
        XCTAssertTrue(entries.contains("checkpoint.json"), "\(entries)")
        XCTAssertEqual(entries.filter { $0.hasPrefix(".") || $0.contains("tmp") }, [], "temporary files left: \(entries)")
        let resumed = try run(["dsgd", "--resume", out + "/checkpoint.json", "--stop-after", "1", "--checkpoint-every", "1", "--out", out])
        XCTAssertEqual(resumed.status, 0, "the checkpoint a kill left is whole: \(resumed.stderr)")
    }

    /// A large configuration (beyond 1 MiB: the key check then compares key paths) still names an
    /// unknown field, and the same file without it runs.
    func testLargeConfigurationsAreCheckedForUnknownFields() throws {
        let entries = (0..<30_000).map { #"{"agent":\#($0 % 8),"behaviour":{"inflate":{"alpha":2}}}"# }
        let head =
            #"{"batch":16,"data":{"agents":8,"features":20,"heterogeneity":1,"loss":"logistic","noise":0.1,"rowsPerAgent":200,"scale":4,"seed":1},"#
            + #""evaluateEvery":1,"iterations":5,"l2":0.001,"mechanism":{"payments":{"coefficient":{"exponent":0.1,"initial":0.0001},"#
            + #""edgeWeighting":"unit"},"stepSize":{"exponent":0.6,"initial":0.5}},"seed":1,"topology":{"exponential":{}},"#
            + #""weights":"metropolis","strategic":["#
        let bad = try write("big-bad.json", head + entries.joined(separator: ",") + #"],"itertions":7}"#)
        XCTAssertGreaterThan(try FileManager.default.attributesOfItem(atPath: bad)[.size] as! Int, 1 << 20)
        // A typo deep inside one entry of the list is found too.
        var inner = entries
        inner[12_345] = #"{"agent":1,"behaviour":{"inflate":{"alpha":2}},"behavior":3}"#
        let deep = try write("big-deep.json", head + inner.joined(separator: ",") + "]}")
        try expectRefusal(["dsgd", "--config", deep], "strategic[].behavior")
        try expectRefusal(["dsgd", "--config", bad], "itertions")
    }

    /// Under `ulimit -v` the memory budget is the address space left, not 80 % of the machine: a
    /// mix of 4.5 GB per copy is refused up front with the limit named, instead of an abort in the
    /// allocator; the same command with small sizes still runs under the same limit.
    func testTheAddressSpaceLimitBoundsTheMemoryBudget() throws {
        guard let binary = Self.binary else { throw missingResource("the agora binary is not built (swift build first)") }
        func limited(_ args: String) throws -> Outcome {
            try run(["-c", "ulimit -v 3000000 && exec \(binary) \(args)"], executable: "/bin/sh")
        }
        let big = try limited("mix --topology ring --agents 120000 --dim 10000 --steps 1")
        XCTAssertFalse(big.signalled, big.stderr)
        XCTAssertEqual(big.status, 1, big.stderr)
        XCTAssertTrue(big.stderr.contains("ulimit -v"), big.stderr)
        let small = try limited("mix --topology ring --agents 64 --dim 100 --steps 2")
        XCTAssertEqual(small.status, 0, small.stderr)
    }

    /// A gzip bomb (800 MB of zeros in under 1 MB) read under `ulimit -v 1.5 GB` is refused while
    /// it inflates, with the limit named, instead of an abort in the allocator.
    func testAGzipBombUnderAnAddressSpaceLimitIsRefused() throws {
        guard let binary = Self.binary else { throw missingResource("the agora binary is not built (swift build first)") }
        let bomb = scratch + "/bomb.csv.gz"
        let make = try run(["-c", "head -c 800M /dev/zero | gzip -1 > '\(bomb)'"], executable: "/bin/sh")
        guard make.status == 0 else { throw missingResource("gzip is not available") }
        let r = try run(["-c", "ulimit -v 1500000 && exec \(binary) data inspect '\(bomb)'"], executable: "/bin/sh")
        XCTAssertFalse(r.signalled, r.stderr)
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("gzip, inflated to more than") && r.stderr.contains("ulimit -v"), r.stderr)
    }

    /// A step size that makes the parameters overflow is named as the cause (the payments, computed
    /// from the same diverged updates, used to be blamed first).
    func testDivergenceBlamesTheStepSize() throws {
        for lr in ["1e30", "1e300"] {
            try expectRefusal(["dsgd", "--agents", "8", "--topology", "ring", "--lr", lr, "--iterations", "50"], "lower the step size")
            let r = try run(["dsgd", "--agents", "8", "--topology", "ring", "--lr", lr, "--iterations", "50"])
            XCTAssertFalse(r.stderr.contains("payment coefficient"), r.stderr)
        }
    }

    /// `agora contract s3 --json`: at least the published optimum (94.01337), a tiny KKT residual,
    /// every IR; size-biased conditioning solves end to end and changes the menu.
    func testContractValuesAndSizeBiasedConditioning() throws {
        let r = try run(["contract", "s3", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let d = try jsonObject(r.stdout, "contract s3")
        let value = try XCTUnwrap(d["expectedValue"] as? Double)
        XCTAssertGreaterThanOrEqual(value, 94.01337 - 1e-6)
        XCTAssertLessThan(value, 94.02)
        XCTAssertLessThan(try XCTUnwrap(d["kktResidual"] as? Double), 1e-10)
        let u = try XCTUnwrap(d["utilities"] as? [Double]), f = try XCTUnwrap(d["reservationUtilities"] as? [Double])
        for (a, b) in zip(u, f) { XCTAssertGreaterThanOrEqual(a, b - 1e-9) }
        let s = try run(["contract", "s3", "--conditioning", "size-biased", "--json"])
        XCTAssertEqual(s.status, 0, s.stderr)
        let sd = try jsonObject(s.stdout, "size-biased")
        XCTAssertLessThan(try XCTUnwrap(sd["kktResidual"] as? Double), 1e-8)
        let su = try XCTUnwrap(sd["utilities"] as? [Double]), sf = try XCTUnwrap(sd["reservationUtilities"] as? [Double])
        for (a, b) in zip(su, sf) { XCTAssertGreaterThanOrEqual(a, b - 1e-9) }
        XCTAssertNotEqual(sd["values"] as? [Double], d["values"] as? [Double], "the conditioning changes the expected rewards")
        try expectRefusal(["contract", write("one.json", #"{"N":1,"p":[0.5,0.5],"c":[0.02,0.01]}"#)], "N = 1")
    }

    /// `agora market audit --json`: 20 markets of 10 clients, budget balance to rounding, no IR
    /// violation, each finding's counts consistent, and over-reporting the cost never profitable.
    func testMarketAuditValues() throws {
        let r = try run(["market", "audit", "--markets", "20", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let d = try jsonObject(r.stdout, "audit")
        XCTAssertEqual(d["markets"] as? Int, 20)
        XCTAssertLessThan(try XCTUnwrap(d["budgetResidualMax"] as? Double), 1e-9)
        XCTAssertEqual(d["irViolations"] as? Int, 0)
        let findings = try XCTUnwrap(d["findings"] as? [[String: Any]])
        XCTAssertFalse(findings.isEmpty)
        for f in findings {
            let cases = try XCTUnwrap(f["cases"] as? Int), profitable = try XCTUnwrap(f["profitable"] as? Int)
            XCTAssertEqual(cases, 20 * 10)
            XCTAssertLessThanOrEqual(profitable, cases)
            XCTAssertEqual(try XCTUnwrap(f["profitableFraction"] as? Double), Double(profitable) / Double(cases), accuracy: 1e-12)
            let name = (f["deviation"] as? [String: Any])?["name"] as? String
            if name == "cost x2" { XCTAssertEqual(profitable, 0, "claiming a higher cost never pays") }
        }
    }

    /// `agora data inspect digits --partition iid --agents 3 --json`: 1797 rows of 64 features,
    /// the agents' sizes add up to the rows, and their label histograms to the label counts.
    func testDataInspectValues() throws {
        _ = try sharedData("uci/digits.csv.gz")
        let r = try run(
            ["data", "inspect", "digits", "--partition", "iid", "--agents", "3", "--json"], environment: ["AGORA_DATA": sharedDataRoot()])
        XCTAssertEqual(r.status, 0, r.stderr)
        let d = try jsonObject(r.stdout, "inspect")
        XCTAssertEqual(d["rows"] as? Int, 1797)
        XCTAssertEqual(d["features"] as? Int, 64)
        let sizes = try XCTUnwrap(d["agentSizes"] as? [Int])
        XCTAssertEqual(sizes.count, 3)
        XCTAssertEqual(sizes.reduce(0, +), 1797)
        let hist = try XCTUnwrap(d["agentLabelHistograms"] as? [[Int]]), counts = try XCTUnwrap(d["labelCounts"] as? [Int])
        XCTAssertEqual((0..<counts.count).map { k in hist.reduce(0) { $0 + $1[k] } }, counts)
        for (h, n) in zip(hist, sizes) { XCTAssertEqual(h.reduce(0, +), n) }
    }
}
