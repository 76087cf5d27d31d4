import AgoraBenchCore
import AgoraTestSupport
import Foundation
import XCTest

/// The built AgoraBenchTrack as users run it, against fake probes (shell scripts that speak the
/// probe's protocol with known, deterministic timings): verdicts, exit statuses, refusals, files.
final class BenchTrackCLITests: XCTestCase {
    /// A built tool of this package (beside the test bundle, or in .build/debug), if any.
    static func built(_ name: String) -> String? {
        let here = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let project = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return [
            here.appendingPathComponent(name).path,
            here.deletingLastPathComponent().appendingPathComponent(name).path,
            project.appendingPathComponent(".build/debug/" + name).path,
        ]
        .first { FileManager.default.isExecutableFile(atPath: $0) }
    }
    static let binary = built("AgoraBenchTrack")

    let scratch = NSTemporaryDirectory() + "agora-benchtrack-\(ProcessInfo.processInfo.processIdentifier)"

    override func setUpWithError() throws {
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(atPath: scratch) }

    /// A fake probe: bench/a at `levelA` us, bench/b at 200 us, a deterministic jitter of 0-4 us
    /// that follows the request count (so two fakes with equal levels time every pair identically).
    func fakeProbe(_ name: String, levelA: Int = 100, core: String = "Haswell") throws -> String {
        let path = scratch + "/" + name
        let script = """
            #!/bin/sh
            ctx='{"cpu_model":"Fake CPU","num_cpus":2,"caches":["L1-Data:32K"],"openblas_config":"fake","openblas_corename":"\(core)","threads":2,"size":"small"}'
            block() {
              j=$(( ($2 * 7) % 5 )); l=200; [ "$1" = bench/a ] && l=\(levelA)
              printf '{"name":"%s","inner":10,"samples_us":[%d.5,%d.0,%d.0],"digest":[1,2]}\\n' "$1" $((l + j + 1)) $((l + j)) $((l + j + 2))
            }
            case " $* " in *" --list "*) echo bench/a; echo bench/b; exit 0;; esac
            case " $* " in *" --serve "*) echo "$ctx"; k=0; while read name; do k=$((k + 1)); block "$name" $k; done; exit 0;; esac
            echo "{\\"context\\":$ctx,\\"benchmarks\\":[$(block bench/a 1),$(block bench/b 1)]}"
            """
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        return path
    }

    struct Outcome {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    func run(_ args: [String], tool: String = "AgoraBenchTrack") throws -> Outcome {
        guard let binary = tool == "AgoraBenchTrack" ? Self.binary : Self.built(tool) else {
            throw missingResource("\(tool) is not built (swift build first)")
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = args
        let outPath = scratch + "/out-\(UUID().uuidString)", errPath = scratch + "/err-\(UUID().uuidString)"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath)),
            err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        defer {
            try? out.close()
            try? err.close()
        }
        p.standardOutput = out
        p.standardError = err
        try p.run()
        p.waitUntilExit()
        XCTAssertNotEqual(p.terminationReason, .uncaughtSignal, "\(tool) \(args.joined(separator: " ")) crashed")
        return Outcome(
            status: p.terminationStatus,
            stdout: String(decoding: FileManager.default.contents(atPath: outPath) ?? Data(), as: UTF8.self),
            stderr: String(decoding: FileManager.default.contents(atPath: errPath) ?? Data(), as: UTF8.self))
    }

    func testIdenticalBuildsReportNoChangeAndWriteFiles() throws {
        let a = try fakeProbe("a.sh"), b = try fakeProbe("b.sh")
        let r = try run(["ab", "--base", a, "--head", b, "--sessions", "8", "--out", scratch + "/ab"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout.components(separatedBy: "no change").count - 1, 2, r.stdout)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: scratch + "/ab/ab.json"))) as! [String: Any]
        let results = json["results"] as! [[String: Any]]
        XCTAssertEqual(results.map { $0["verdict"] as! String }, ["no change", "no change"])
        XCTAssertEqual((results[0]["base_us"] as! [Double]).count, 8)
        XCTAssertEqual(results[0]["ratio"] as! Double, 1)
        let csv = try String(contentsOfFile: scratch + "/ab/ab.csv", encoding: .utf8)
        XCTAssertTrue(csv.hasPrefix("benchmark,base_median_us,head_median_us,ratio"))
        XCTAssertEqual(csv.split(separator: "\n").count, 3)
    }

    func testSlowerHeadIsDetectedAndGated() throws {
        let a = try fakeProbe("a.sh"), b = try fakeProbe("b.sh", levelA: 120)
        let r = try run(["ab", "--base", a, "--head", b, "--sessions", "8"])
        XCTAssertEqual(r.status, 1, r.stdout + r.stderr)
        let line = r.stdout.split(separator: "\n").first { $0.hasPrefix("bench/a") }.map(String.init) ?? ""
        XCTAssertTrue(line.contains("slower") && line.contains("beyond the 5% gate"), line)
        XCTAssertTrue(r.stdout.split(separator: "\n").first { $0.hasPrefix("bench/b") }?.contains("no change") ?? false)
        // A threshold above the effect: still reported slower, no longer fails; --report-only never fails.
        XCTAssertEqual(try run(["ab", "--base", a, "--head", b, "--sessions", "8", "--threshold", "0.3"]).status, 0)
        XCTAssertEqual(try run(["ab", "--base", a, "--head", b, "--sessions", "8", "--report-only"]).status, 0)
        // Faster: the mirror image, never gated.
        let f = try run(["ab", "--base", b, "--head", a, "--sessions", "8"])
        XCTAssertEqual(f.status, 0)
        XCTAssertTrue(f.stdout.contains("faster"), f.stdout)
    }

    func testDifferentConfigurationsAreRefusedUnlessForced() throws {
        let a = try fakeProbe("a.sh"), b = try fakeProbe("b.sh", core: "Prescott")
        let r = try run(["ab", "--base", a, "--head", b, "--sessions", "4"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("not comparable") && r.stderr.contains("OpenBLAS core Prescott vs Haswell"), r.stderr)
        let forced = try run(["ab", "--base", a, "--head", b, "--sessions", "4", "--force-machine"])
        XCTAssertEqual(forced.status, 0, forced.stderr)
        XCTAssertTrue(forced.stdout.contains("warning: head vs base: OpenBLAS core Prescott vs Haswell"), forced.stdout)
    }

    func testUsageErrors() throws {
        let a = try fakeProbe("a.sh")
        let missing = try run(["ab", "--base", a])
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stderr.contains("--head is required"), missing.stderr)
        let noProbe = try run(["ab", "--base", a, "--head", scratch + "/nothing"])
        XCTAssertEqual(noProbe.status, 2)
        XCTAssertTrue(noProbe.stderr.contains("cannot run probe"), noProbe.stderr)
        let badRounds = try run(["ab", "--base", a, "--head", a, "--sessions", "x"])
        XCTAssertEqual(badRounds.status, 2)
        XCTAssertTrue(badRounds.stderr.contains("--sessions expects a number"), badRounds.stderr)
        let unknown = try run(["ab", "--base", a, "--head", a, "--only", "bench/zzz"])
        XCTAssertEqual(unknown.status, 2)
        XCTAssertTrue(unknown.stderr.contains("unknown benchmark bench/zzz"), unknown.stderr)
        XCTAssertEqual(try run(["frobnicate"]).status, 2)
    }

    func testTrialsReportRates() throws {
        let a = try fakeProbe("a.sh"), b = try fakeProbe("b.sh", levelA: 111)
        let r = try run(["ab", "--base", a, "--head", b, "--sessions", "8", "--trials", "3", "--out", scratch + "/trials"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("bench/a           slower 3, faster 0, no change 0"), r.stdout)
        XCTAssertTrue(r.stdout.contains("trials with no change in any benchmark: 0 of 3"), r.stdout)
        XCTAssertEqual(try String(contentsOfFile: scratch + "/trials/trials.csv", encoding: .utf8).split(separator: "\n").count, 7)
    }

    func testRecordAndReport() throws {
        let a = try fakeProbe("a.sh"), slow = try fakeProbe("slow.sh", levelA: 130)
        let store = scratch + "/history"
        for (k, probe) in [a, a, a, slow, slow, slow].enumerated() {
            let r = try run([
                "record", "--probe", probe, "--store", store, "--commit", "c\(k)", "--subject", "commit \(k)", "--rounds", "4",
            ])
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: store)
        XCTAssertEqual(files.count, 1, "one file per machine identity")
        XCTAssertTrue(files[0].hasPrefix("fake-cpu-2cpu-haswell-t2-"), files[0])
        try "c0\nc1\nc2\nc3\nc4\nc5\n".write(toFile: scratch + "/order", atomically: true, encoding: .utf8)
        let r = try run(["report", "--store", store, "--out", scratch + "/report", "--order", scratch + "/order"])
        XCTAssertEqual(r.status, 0, r.stderr)
        // 100 -> 130 us (plus the fake's 0-4 us jitter): one step, where it happened, of about +30 %.
        let marker = "bench/a: step at commit c3 (4 of 6): +"
        let step = r.stdout.components(separatedBy: marker).dropFirst().first.flatMap { Double($0.prefix(while: { $0 != "%" })) }
        XCTAssertEqual(step ?? 0, 30, accuracy: 2, r.stdout)
        XCTAssertTrue(r.stdout.contains("bench/b: no step over 6 commits"), r.stdout)
        let dir = scratch + "/report/" + files[0].replacingOccurrences(of: ".jsonl", with: "")
        let svg = try String(contentsOfFile: dir + "/bench_a.svg", encoding: .utf8)
        XCTAssertTrue(svg.contains("Fake CPU") && svg.contains("step at c3"), "the plot names the machine and the step")
        XCTAssertEqual(try String(contentsOfFile: dir + "/history.csv", encoding: .utf8).split(separator: "\n").count, 13)
        // A damaged store is an error naming the file and line.
        try "garbage\n".write(toFile: store + "/" + files[0], atomically: true, encoding: .utf8)
        let bad = try run(["report", "--store", store, "--out", scratch + "/report"])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.contains(files[0] + ":1: not a history entry"), bad.stderr)
    }

    /// Both benchmark tools refuse what they do not know (exit 2, naming it) instead of ignoring it:
    /// an ignored typo in AgoraBench's flags meant a quarter-hour run of every section.
    func testUnknownOptionsAreUsageErrors() throws {
        let a = try fakeProbe("a.sh")
        var r = try run(["ab", "--base", a, "--head", a, "--sesions", "8"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("unknown option --sesions"), r.stderr)
        r = try run(["report", "--store", scratch, "--out"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("--out expects a value"), r.stderr)
        r = try run(["record", "--probe", a, "--probe", a, "--store", scratch, "--commit", "abc"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("--probe is given twice"), r.stderr)

        r = try run(["ab", "--help"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("usage: AgoraBenchTrack"), r.stdout)

        r = try run(["--quick", "--help"], tool: "AgoraBench")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("usage: AgoraBench"), r.stdout)
        for (args, message) in [
            (["--ony", "kernels"], "unknown option --ony"),
            (["--only", "kernels,gradients"], "--only: unknown item 'gradients'"),
            (["--quick", "--out"], "--out expects a value"),
            (["--threshold", "-1"], "--threshold expects a number >= 0.0"),
            (["sweep"], "unexpected argument 'sweep'"),
        ] {
            r = try run(args, tool: "AgoraBench")
            XCTAssertEqual(r.status, 2, "\(args): \(r.stdout)")
            XCTAssertTrue(r.stderr.contains(message), "\(args): \(r.stderr)")
            XCTAssertFalse(r.stdout.contains("== bounds"), "\(args) ran the benchmark")
        }
    }

    /// The parser itself: values, switches, lists and the errors, without a process.
    func testCommandLineOptionsParsing() throws {
        let o = try CommandLineOptions(
            ["--only", "a,b", "--quick", "--n", "3"], valued: ["--only", "--n", "--out"], switches: ["--quick", "--x"])
        XCTAssertEqual(o.value("--only"), "a,b")
        XCTAssertNil(o.value("--out"))
        XCTAssertTrue(o.has("--quick"))
        XCTAssertFalse(o.has("--x"))
        XCTAssertEqual(try o.number("--n", default: 1, min: 1), 3)
        XCTAssertEqual(try o.number("--missing", default: 7, min: 1), 7)
        XCTAssertEqual(try o.list("--only", allowed: ["a", "b", "c"]), ["a", "b"])
        XCTAssertThrowsError(try o.list("--only", allowed: ["a"]))
        XCTAssertThrowsError(try o.number("--n", default: 1, min: 4))
        XCTAssertThrowsError(try o.string("--out"))
        XCTAssertEqual(try o.string("--out", default: "d"), "d")
        XCTAssertThrowsError(try CommandLineOptions(["--only", "--quick"], valued: ["--only"], switches: ["--quick"]))
        XCTAssertThrowsError(try CommandLineOptions(["-v"], valued: [], switches: []))
        XCTAssertThrowsError(try CommandLineOptions(["--quick", "--quick"], valued: [], switches: ["--quick"]))
        XCTAssertFalse(o.helpRequested)
        XCTAssertTrue(try CommandLineOptions(["--n", "2", "-h"], valued: ["--n"], switches: []).helpRequested, "every command knows -h")
    }
}
