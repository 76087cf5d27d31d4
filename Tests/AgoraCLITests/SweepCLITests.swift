import AgoraTestSupport
import Foundation
import XCTest

/// `agora sweep` and `agora report` as users run them: the built binary, its folders, tables and
/// exit codes.
extension RobustnessTests {
    /// A small grid of `agora mix` runs: 2 topologies x 2 sizes x 2 seeds.
    func writeSweepFile(_ name: String, _ text: String? = nil) throws -> String {
        let path = scratch + "/" + name
        let json =
            text ?? """
                { "command": "mix",
                  "options": { "dim": 12, "steps": 3 },
                  "axes": [ { "name": "topology", "values": ["ring", "exponential"] },
                            { "name": "agents", "range": { "from": 4, "to": 16, "times": 4 } } ],
                  "seeds": 2 }
                """
        try json.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func contents(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

    /// Every cell runs, one table comes out (configuration then metrics, timings apart), each cell's
    /// numbers are those of the same command run by hand, and a second run finds everything done.
    /// A lost cell (and a working folder a killed sweep left) is run again, and the table is the
    /// same bytes.
    func testSweepRunsEveryCellIntoOneTableAndResumes() throws {
        let file = try writeSweepFile("grid.json")
        let out = scratch + "/grid.sweep"
        let dry = try run(["sweep", file, "--out", out, "--dry-run"])
        XCTAssertEqual(dry.status, 0, dry.stderr)
        XCTAssertEqual(dry.stdout.components(separatedBy: "agora mix").count - 1, 8, dry.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "a dry run writes nothing")

        let first = try run(["sweep", file, "--out", out, "--json"])
        XCTAssertEqual(first.status, 0, first.stderr)
        let summary = try jsonObject(first.stdout, "sweep --json")
        XCTAssertEqual(summary["done"] as? Int, 8)
        XCTAssertEqual(summary["failed"] as? Int, 0)
        let csv = try XCTUnwrap(String(data: contents(out + "/results.csv") ?? Data(), encoding: .utf8))
        let lines = csv.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 9)
        let header = lines[0].split(separator: ",").map(String.init)
        XCTAssertEqual(Array(header.prefix(8)), ["cell", "key", "status", "topology", "agents", "seed", "dim", "steps"])
        XCTAssertFalse(header.contains { $0.lowercased().contains("second") }, "timings stay out of results.csv: \(header)")
        XCTAssertTrue(String(decoding: contents(out + "/timings.csv") ?? Data(), as: UTF8.self).hasPrefix("cell,key,secondsPerStep"))
        // Cell 5 (exponential, 4 agents, seed 2) against the command run directly.
        let row = lines[6].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        XCTAssertEqual(Array(row[2...5]), ["done", "exponential", "4", "2"])
        let direct = try run(["mix", "--topology", "exponential", "--agents", "4", "--seed", "2", "--dim", "12", "--steps", "3", "--json"])
        let reference = try jsonObject(direct.stdout, "mix")
        let digestColumn = try XCTUnwrap(header.firstIndex(of: "parametersDigest"))
        XCTAssertEqual(row[digestColumn], reference["parametersDigest"] as? String)
        // The number as the command printed it (Foundation's JSONSerialization rounds some
        // 17-digit numbers on Linux, so the text is compared).
        let gapColumn = try XCTUnwrap(header.firstIndex(of: "spectralGap"))
        let printed = try XCTUnwrap(direct.stdout.range(of: #""spectralGap":[^,}]*"#, options: .regularExpression))
        XCTAssertEqual("\"spectralGap\":" + row[gapColumn], String(direct.stdout[printed]))
        let jsonl = String(decoding: contents(out + "/results.jsonl") ?? Data(), as: UTF8.self).split(separator: "\n")
        XCTAssertEqual(jsonl.count, 8)

        let again = try run(["sweep", file, "--out", out])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stderr.contains("8 done already, 0 to run"), again.stderr)
        XCTAssertEqual(contents(out + "/results.csv"), Data(csv.utf8))

        // A lost cell and a killed run's leftovers: only that cell runs again.
        let key = row[1]
        try FileManager.default.removeItem(atPath: out + "/cells/" + key)
        try FileManager.default.createDirectory(atPath: out + "/cells/.running-\(key)-999999", withIntermediateDirectories: true)
        let resumed = try run(["sweep", file, "--out", out])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("7 done already, 1 to run"), resumed.stderr)
        XCTAssertEqual(contents(out + "/results.csv"), Data(csv.utf8))
        let left = try FileManager.default.contentsOfDirectory(atPath: out + "/cells").filter {
            $0.hasPrefix(".running-") && !$0.hasSuffix("-999999")
        }
        XCTAssertEqual(left, [], "no working folder of this run is left")
    }

    /// Shards (given, and from a Slurm array's variables) and `--collect` make the same table as
    /// the whole sweep in one process; a shard writes no table while cells are missing.
    func testShardsAndCollectGiveTheInProcessTable() throws {
        let file = try writeSweepFile("shards.json")
        let whole = try run(["sweep", file, "--out", scratch + "/whole.sweep"])
        XCTAssertEqual(whole.status, 0, whole.stderr)
        let out = scratch + "/sharded.sweep"
        let a = try run(["sweep", file, "--out", out, "--shard", "0/3"])
        XCTAssertEqual(a.status, 0, a.stderr)
        XCTAssertTrue(a.stderr.contains("shard 0/3: 3"), a.stderr)
        XCTAssertNil(contents(out + "/results.csv"), "no table while other shards are missing")
        let b = try run(
            ["sweep", file, "--out", out],
            environment: ["SLURM_ARRAY_TASK_ID": "11", "SLURM_ARRAY_TASK_MIN": "10", "SLURM_ARRAY_TASK_COUNT": "3"])
        XCTAssertEqual(b.status, 0, b.stderr)
        XCTAssertTrue(b.stderr.contains("shard 1/3"), b.stderr)
        let partial = try run(["sweep", file, "--out", out, "--collect", "--json"])
        XCTAssertEqual(partial.status, 0, partial.stderr)
        XCTAssertEqual(try jsonObject(partial.stdout, "collect")["missing"] as? Int, 2)
        XCTAssertTrue(String(decoding: contents(out + "/results.csv") ?? Data(), as: UTF8.self).contains(",missing,"))
        let c = try run(["sweep", file, "--out", out, "--shard", "2/3"])
        XCTAssertEqual(c.status, 0, c.stderr)
        XCTAssertEqual(contents(out + "/results.csv"), contents(scratch + "/whole.sweep/results.csv"))
        XCTAssertEqual(contents(out + "/results.jsonl"), contents(scratch + "/whole.sweep/results.jsonl"))
        try expectRefusal(["sweep", file, "--out", out, "--shard", "3/3"], "expected K/N with 0 <= K < N")
    }

    /// A cell that fails is recorded with its error and the others finish; the sweep exits 1 and
    /// tries the failed cell again on the next run.
    func testAFailedCellIsRecordedAndTheSweepGoesOn() throws {
        let file = try writeSweepFile(
            "fails.json",
            #"{ "command": "mix", "options": { "dim": 4, "steps": 2, "topology": "torus:3x3" }, "axes": [ { "name": "agents", "values": [9, 10] } ] }"#
        )
        let out = scratch + "/fails.sweep"
        let r = try run(["sweep", file, "--out", out])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("1 cell failed"), r.stderr)
        let lines = String(decoding: contents(out + "/results.csv") ?? Data(), as: UTF8.self).split(separator: "\n")
        XCTAssertEqual(lines.count, 3)
        XCTAssertTrue(lines[1].contains(",done,"), String(lines[1]))
        XCTAssertTrue(lines[2].contains(",failed,"), String(lines[2]))
        XCTAssertTrue(lines[2].contains("exit status 1: Error: Topology torus:3x3 has 9 cells but there are 10 agents"), String(lines[2]))
        let again = try run(["sweep", file, "--out", out])
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.stderr.contains("1 done already, 1 to run"), again.stderr)
    }

    /// Mistakes in a sweep file, or an option its command does not take, stop the sweep before any
    /// cell runs, naming the file (and line, field or cell).
    func testSweepRefusesBadFilesBeforeRunning() throws {
        let typo = try writeSweepFile(
            "typo.json", #"{ "command": "mix", "options": { "dims": 4 }, "axes": [ { "name": "agents", "values": [4, 5] } ] }"#)
        try expectRefusal(
            ["sweep", typo, "--out", scratch + "/typo.sweep"],
            "typo.json: cell 0 (agents=4): agora mix --agents 4 --dims 4: Unknown option '--dims'")
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch + "/typo.sweep/cells"), "nothing ran")
        // An axis that is no option of the command, and an empty axis.
        let axis = try writeSweepFile("axis.json", #"{ "command": "mix", "axes": [ { "name": "topolgy", "values": ["ring"] } ] }"#)
        try expectRefusal(
            ["sweep", axis, "--out", scratch + "/axis.sweep"], "cell 0 (topolgy=ring): agora mix --topolgy ring: Unknown option '--topolgy'"
        )
        let empty = try writeSweepFile("empty.json", #"{ "command": "mix", "axes": [ { "name": "agents", "values": [] } ] }"#)
        try expectRefusal(["sweep", empty], "empty.json: axes[0].values: expected a non-empty list")
        let broken = try writeSweepFile("broken.json", "{ \"command\": \"mix\",\n  \"axes\": [ { \"name\" 4 } ] }")
        try expectRefusal(["sweep", broken], "broken.json:2:")
        let field = try writeSweepFile("field.json", #"{ "command": "mix", "axes": [ { "name": "agents", "range": { "from": 4 } } ] }"#)
        try expectRefusal(["sweep", field], "field.json: axes[0].range: expected numbers")
        try expectRefusal(["sweep", scratch + "/absent.json"], "absent.json")
    }

    /// `agora report` on a sweep (plots, table, failed cells) and on a run's folder (summary, plots,
    /// CSV tables): one HTML file with everything inline.
    func testReportsForASweepAndARun() throws {
        let file = try writeSweepFile("report.json")
        let out = scratch + "/report.sweep"
        XCTAssertEqual(try run(["sweep", file, "--out", out]).status, 0)
        let r = try run(["report", out, "--metric", "spectralGap"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let html = String(decoding: contents(out + "/report.html") ?? Data(), as: UTF8.self)
        XCTAssertTrue(html.hasPrefix("<!DOCTYPE html>"))
        XCTAssertEqual(html.components(separatedBy: "<svg").count - 1, 1, "one metric, one plot")
        XCTAssertTrue(html.contains("topology=exponential"), "one line per topology")
        XCTAssertEqual(html.components(separatedBy: "<tr><td>").count - 1, 8, "one table row per cell")
        // The only URL is the SVG namespace, which names and fetches nothing.
        let urls = html.replacingOccurrences(of: "http://www.w3.org/2000/svg", with: "")
        XCTAssertFalse(urls.contains("http://") || urls.contains("https://"), "nothing fetched from the network")
        XCTAssertFalse(html.contains("<script src"), "no external script")
        try expectRefusal(["report", out, "--x", "nope"], "'nope' is not a column")

        let runOut = scratch + "/report-run"
        XCTAssertEqual(try run(["dsgd", "--agents", "6", "--iterations", "20", "--inflate", "0:2", "--out", runOut]).status, 0)
        let page = scratch + "/run.html"
        XCTAssertEqual(try run(["report", runOut, "--out", page]).status, 0)
        let text = String(decoding: contents(page) ?? Data(), as: UTF8.self)
        XCTAssertTrue(text.contains("finalGapWithPayments"), "the summary")
        XCTAssertGreaterThanOrEqual(text.components(separatedBy: "<svg").count - 1, 3, "the run's plots")
        XCTAssertTrue(text.contains("metrics.csv"), "the run's tables")
        try expectRefusal(["report", scratch + "/absent-folder"], "not a folder")
    }
}

extension RobustnessTests {
    /// One method's divergence ends that method, not the run: on digits Dirichlet(0.1) seed 2,
    /// FedFomo's training leaves the finite numbers in round 6 at lr 0.05; `market run` reports its
    /// 5 rounds with `diverged` set and a warning, and local training runs to the end.
    func testADivergingMethodEndsThatMethodOnly() throws {
        _ = try sharedData("uci/digits.csv.gz")
        let r = try run(
            [
                "market", "run", "--data", "digits", "--method", "local,fedfomo", "--partition", "dirichlet:0.1", "--seed", "2", "--rounds",
                "8",
                "--json",
            ],
            environment: ["AGORA_DATA": sharedDataRoot()], timeout: 300)
        XCTAssertEqual(r.status, 0, r.stderr)
        let o = try jsonObject(r.stdout, "market run")
        let methods = try XCTUnwrap(o["methods"] as? [[String: Any]])
        let fomo = try XCTUnwrap(methods.first { $0["method"] as? String == "fedfomo" })
        let local = try XCTUnwrap(methods.first { $0["method"] as? String == "local" })
        XCTAssertTrue((fomo["diverged"] as? String)?.hasPrefix("round 6: local training diverged") ?? false, "\(fomo)")
        XCTAssertNil(local["diverged"])
        XCTAssertTrue((fomo["meanBestAccuracy"] as? Double)?.isFinite ?? false, "the rounds before count")
        let warnings = try XCTUnwrap(o["warnings"] as? [String])
        XCTAssertTrue(warnings.contains { $0.hasPrefix("fedfomo diverged at round 6") }, "\(warnings)")
    }
}

extension RobustnessTests {
    /// A sweep killed with SIGKILL after some cells resumes with only the missing ones, and its
    /// table equals the uninterrupted sweep's; the kill leaves no half cell behind.
    func testAKilledSweepResumesWithTheMissingCellsOnly() throws {
        guard let binary = Self.binary else { throw missingResource("the agora binary is not built (swift build first)") }
        let file = try writeSweepFile(
            "killed.json",
            #"{ "command": "dsgd run", "options": { "agents": 6, "iterations": 400, "c0": "1e-3" }, "axes": [ { "name": "topology", "values": ["ring", "exponential", "complete"] } ], "seeds": 3 }"#
        )
        let whole = try run(["sweep", file, "--out", scratch + "/killed-whole.sweep"], timeout: 600)
        XCTAssertEqual(whole.status, 0, whole.stderr)
        let out = scratch + "/killed.sweep"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = ["sweep", file, "--out", out, "--jobs", "1"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        func finished() -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: out + "/cells")) ?? []).filter {
                !$0.hasPrefix(".") && !$0.hasSuffix(".json")
            }
        }
        let deadline = Date().addingTimeInterval(300)
        while finished().count < 2 && Date() < deadline && p.isRunning { usleep(20_000) }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        let before = finished().count
        XCTAssertGreaterThanOrEqual(before, 2)
        XCTAssertLessThan(before, 9, "killed before the end")
        for key in finished() {
            XCTAssertNotNil(FileManager.default.contents(atPath: out + "/cells/" + key + "/summary.json"), "cell \(key) is whole")
        }
        // The child running when the parent died may still finish and rename itself into place.
        usleep(3_000_000)
        let done = finished().count
        let resumed = try run(["sweep", file, "--out", out], timeout: 600)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("\(done) done already, \(9 - done) to run"), resumed.stderr)
        XCTAssertEqual(contents(out + "/results.csv"), contents(scratch + "/killed-whole.sweep/results.csv"))
    }
}
