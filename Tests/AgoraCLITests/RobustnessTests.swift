import AgoraKernels
import AgoraTestSupport
import Foundation
import XCTest

/// The built `agora` binary against a table of hostile inputs (one per class of crash, hang or
/// silent error found by hand): each must end with a clean non-zero exit (1 for a run-time error,
/// 64 for a usage error) and a message on standard error that names the problem, never a signal,
/// a Swift trap or a stack trace.
final class RobustnessTests: XCTestCase {
    struct Outcome {
        let status: Int32
        let signalled: Bool
        let stdout: String
        let stderr: String
    }

    /// The agora binary built beside this test bundle (swift test builds it as a dependency).
    static let binary: String? = {
        let here = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let project = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let candidates = [
            here.appendingPathComponent("agora").path,
            here.deletingLastPathComponent().appendingPathComponent("agora").path,
            project.appendingPathComponent(".build/debug/agora").path,
            project.appendingPathComponent(".build/release/agora").path,
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    let scratch = NSTemporaryDirectory() + "agora-cli-robustness-\(ProcessInfo.processInfo.processIdentifier)"

    override func setUpWithError() throws {
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: scratch)
    }

    func run(
        _ args: [String], environment: [String: String] = [:], removing: [String] = [], timeout: TimeInterval = 60,
        executable: String? = nil
    ) throws -> Outcome {
        guard let binary = Self.binary else { throw missingResource("the agora binary is not built (swift build first)") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable ?? binary)
        p.arguments = args
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }.filter { !removing.contains($0.key) }
        p.currentDirectoryURL = URL(fileURLWithPath: scratch)
        // Output goes to files (a pipe could fill up and block a chatty run).
        let tag = UUID().uuidString
        let outPath = scratch + "/stdout-\(tag)", errPath = scratch + "/stderr-\(tag)"
        FileManager.default.createFile(atPath: outPath, contents: nil)
        FileManager.default.createFile(atPath: errPath, contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        defer {
            try? out.close()
            try? err.close()
        }
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(20_000) }
        if p.isRunning {
            p.terminate()
            XCTFail("agora \(args.joined(separator: " ")) did not finish within \(Int(timeout)) s (a hang)")
        }
        p.waitUntilExit()
        let o = FileManager.default.contents(atPath: outPath) ?? Data(), e = FileManager.default.contents(atPath: errPath) ?? Data()
        return Outcome(
            status: p.terminationStatus, signalled: p.terminationReason == .uncaughtSignal,
            stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    /// Asserts a clean refusal whose message contains `fragment`.
    func expectRefusal(
        _ args: [String], _ fragment: String, environment: [String: String] = [:],
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let r = try run(args, environment: environment)
        let all = r.stderr + r.stdout
        let label = "agora \(args.joined(separator: " "))"
        XCTAssertFalse(r.signalled, "\(label) was killed by signal \(r.status)\n\(all)", file: file, line: line)
        XCTAssertTrue(r.status == 1 || r.status == 64, "\(label) exited \(r.status), expected 1 or 64\n\(all)", file: file, line: line)
        XCTAssertFalse(all.contains("Fatal error") || all.contains("Backtrac"), "\(label) trapped\n\(all)", file: file, line: line)
        XCTAssertTrue(
            all.localizedCaseInsensitiveContains(fragment), "\(label): message lacks '\(fragment)'\n\(all)", file: file, line: line)
    }

    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let path = scratch + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    func write(_ name: String, _ text: String) throws -> String { try write(name, Array(text.utf8)) }

    func testMalformedBehaviourAndMisreportSpecs() throws {
        try expectRefusal(["dsgd", "--inflate", ":"], "expected AGENT:VALUE")
        try expectRefusal(["dsgd", "--inflate", ""], "expected AGENT:VALUE")
        try expectRefusal(["dsgd", "--noise", ""], "expected AGENT:VALUE")
        try expectRefusal(["dsgd", "--inflate", "3:2:9"], "expected AGENT:VALUE")
        try expectRefusal(["dsgd", "--inflate", "3:nan"], "finite")
        try expectRefusal(["market", "run", "--misreport", ":"], "CLIENT:SIZE_FACTOR:COST_FACTOR")
        try expectRefusal(["market", "run", "--attack", "1:"], "CLIENT:KIND")
        try expectRefusal(["market", "audit", "--sizes", "5:1"], "MIN <= MAX")
    }

    func testPartitionAndTopologySpellingsAreExact() throws {
        let data = try write("tiny.svm", (0..<60).map { "\($0 % 2 == 0 ? 1 : -1) 1:\($0) 2:1" }.joined(separator: "\n"))
        // Each refusal names the spelling and what was expected (not only a word any usage text has).
        for (bad, why) in [
            ("shards:nan", "expected shards:S with a whole number S from 1 to 1000000"),
            ("shards:1e300", "expected shards:S with a whole number S from 1 to 1000000"),
            ("cluster:inf", "expected cluster:G with a whole number G from 1 to 1000000"), ("iid:5", "'iid' takes no argument"),
            ("dirichlet:-1", "expected dirichlet:BETA with a positive number BETA"),
            ("dirichlet:", "expected dirichlet:BETA with a positive number BETA"),
        ] {
            try expectRefusal(
                ["dsgd", "--data", data, "--partition", bad, "--agents", "4", "--iterations", "5"], "partition: '\(bad)': " + why)
        }
        for (bad, why) in [
            ("ring:5", "'ring' takes no argument"), ("star:3", "'star' takes no argument"), ("complete:1", "'complete' takes no argument"),
            ("torus:9999999999x9999999999", "expected torus:ROWSxCOLS with positive sides and at most 1048576 agents"),
            ("torus:0x4", "expected torus:ROWSxCOLS with positive sides"), ("erdos-renyi:0.5:1", "expected erdos-renyi:P"),
            ("small-world:4", "expected small-world:K:BETA"),
        ] {
            try expectRefusal(["topology", "--topology", bad, "--agents", "16"], "Topology '\(bad)': " + why)
        }
    }

    func testSizesNearIntMaxAndTooLargeRunsAreRefusedUpFront() throws {
        let huge = String(Int.max)
        try expectRefusal(["mix", "--agents", huge, "--dim", "10", "--steps", "1"], "mixing \(huge) agents x 10 parameters needs about")
        try expectRefusal(["mix", "--agents", "4", "--dim", huge, "--steps", "1"], "needs about")
        try expectRefusal(["mix", "--agents", "4096", "--dim", "1000000", "--steps", "1"], "needs about")
        try expectRefusal(["dsgd", "--iterations", huge], "iterations: must be in 1...1000000000, got \(huge)")
        try expectRefusal(["dsgd", "--features", huge], "needs about")
        try expectRefusal(["dsgd", "--batch", "1000000000"], "batch: must be in 1...1000000, got 1000000000")
        try expectRefusal(
            ["market", "run", "--clients", "1000000"], "synthetic data of 1000000 x", environment: ["AGORA_MEMORY_LIMIT": "8G"])
        try expectRefusal(["market", "audit", "--markets", "1000000000"], "needs about")
        try expectRefusal(["topology", "--topology", "complete", "--agents", "1000000"], "needs about")
        try expectRefusal(["topology", "--topology", "erdos-renyi:0.0001", "--agents", "1000000"], "at most 50000 agents")
        try expectRefusal(
            ["mix", "--agents", "64", "--dim", "1000", "--steps", "1"], "AGORA_MEMORY_LIMIT",
            environment: ["AGORA_MEMORY_LIMIT": "100K"])
        // A malformed or zero limit is an error naming the variable, not silently ignored.
        for bad in ["lots", "0", "-5G"] {
            try expectRefusal(
                ["mix", "--agents", "64", "--dim", "1000", "--steps", "1"], "AGORA_MEMORY_LIMIT='\(bad)' is not a positive byte count",
                environment: ["AGORA_MEMORY_LIMIT": bad])
        }
        // A probability that is not one is a spelling error, not a memory estimate.
        for p in ["nan", "0", "1.5", "inf"] {
            try expectRefusal(["topology", "--topology", "erdos-renyi:\(p)", "--agents", "16"], "the edge probability P must be in (0, 1]")
        }
    }

    func testContractSettingsAreBounded() throws {
        let many = try write(
            "many.json",
            #"{"N": 10, "p": [\#((0..<300).map { _ in "0.00333333333333333" }.joined(separator: ","))], "c": [\#((0..<300).map { "\(Double($0 + 1) / 100)" }.joined(separator: ","))]}"#
        )
        try expectRefusal(["contract", many], "c has 300 types; at most 20 are supported")
        let bigN = try write("bign.json", #"{"N": 9223372036854775807, "p": [0.5, 0.5], "c": [1, 2]}"#)
        try expectRefusal(["contract", bigN], "at most 1000000 participants are supported")
        try expectRefusal(["contract", "s3", "--sampled", "1000000000"], "1000000000 samples of N = 10")
    }

    func testMalformedDataFilesNameTheProblem() throws {
        let wide = try write("wide.svm", "1 3000000000:1\n-1 1:1\n")
        try expectRefusal(["data", "inspect", wide], "largest supported index")
        let at31 = try write("at31.svm", "1 2147483648:1\n")
        try expectRefusal(["data", "inspect", at31], "largest supported index")
        let labelsOnly = try write("labels.svm", "1\n-1\n1\n")
        try expectRefusal(["data", "inspect", labelsOnly], "no features")
        // IDX headers whose sizes overflow or exceed the file.
        let idxHuge = try write(
            "huge-idx3-ubyte", [0, 0, 8, 3, 0x7F, 0xFF, 0xFF, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 1, 2, 3])
        let labels = try write("x-labels-idx1-ubyte", [0, 0, 8, 1, 0, 0, 0, 1, 7])
        try expectRefusal(["data", "inspect", idxHuge, "--labels", labels], "declare more data")
        let idxMany = try write("many-idx3-ubyte", [0, 0, 8, 255] + [UInt8](repeating: 0xFF, count: 1020))
        try expectRefusal(["data", "inspect", idxMany, "--labels", labels], "declare more data")
        // CSV: an ambiguous first row, a NaN label.
        let typo = try write("typo.csv", "1.0,2.O,1\n3,4,0\n")
        try expectRefusal(["data", "inspect", typo], "neither clearly a header")
        let nanLabel = try write("nan.csv", "1,2,nan\n3,4,0\n")
        try expectRefusal(["data", "inspect", nanLabel], "not a finite number")
        // A folder named like IDX does not make a LIBSVM file IDX.
        try FileManager.default.createDirectory(atPath: scratch + "/idx-data", withIntermediateDirectories: true)
        let svm = try write("idx-data/a.svm", "1 1:1\n-1 2:1\n")
        let r = try run(["data", "inspect", svm, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains(#""format":"libsvm""#), r.stdout)
    }

    /// The CLI as a newcomer meets it: a bare `agora` prints help and runs nothing; every
    /// choice-valued option lists its choices in `--help`; one wording for a wrong choice; a named
    /// data set resolves in `data inspect`, whose JSON always carries `header`.
    func testHelpListsChoicesAndBareAgoraPrintsHelp() throws {
        let bare = try run([])
        XCTAssertEqual(bare.status, 0, bare.stderr)
        XCTAssertTrue(bare.stdout.contains("SUBCOMMANDS:") && bare.stdout.contains("dsgd"), bare.stdout)
        XCTAssertTrue(bare.stdout.hasPrefix("OVERVIEW:"), "a bare agora prints help and runs nothing:\n\(bare.stdout)")
        let choices: [([String], [String])] = [
            (
                ["mix", "--help"],
                ["values: metropolis, max-degree, uniform, lazy-metropolis", "values: auto, sparse, dense", "values: auto, inprocess, mpi"]
            ),
            (["market", "reproduce", "--help"], ["values: partitions, robustness, liars, inclusive, acceptance, gain, figure2, all"]),
            (
                ["dsgd", "run", "--help"],
                [
                    "values: logistic, squared", "values: final, average, cumulative",
                    "values: unit, mixing-weight, degree-normalised", "values: libsvm, idx, csv", "values: auto, yes, no",
                ]
            ),
            (
                ["market", "run", "--help"],
                [
                    "values: default, paper", "values: cosine, squared-l2", "values: index, random",
                    "values: absolute, relative", "values: client, market",
                    "values: negative-utility, ir-probability", "values: agora, reference", "values: yes, no",
                ]
            ),
            (["contract", "--help"], ["values: truncated, size-biased"]),
        ]
        for (args, expected) in choices {
            let help = try run(args)
            // ArgumentParser wraps help at the terminal width: compare with the line breaks removed.
            let flat = help.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            for e in expected { XCTAssertTrue(flat.contains(e), "agora \(args.joined(separator: " ")): no '\(e)' in\n\(help.stdout)") }
        }
        try expectRefusal(["mix", "--weights", "even"], "is invalid for '--weights <weights>'. Please provide one of 'metropolis'")
        try expectRefusal(
            ["topology", "--topology", "star", "--agents", "5", "--weights", "uniform"], "uniform weights need a regular graph")
        let csv = try write("plain.csv", "1,2,0\n3,4,1\n5,6,0\n")
        let plain = try run(["data", "inspect", csv, "--json"])
        XCTAssertEqual(plain.status, 0, plain.stderr)
        XCTAssertTrue(plain.stdout.contains(#""header":null"#), plain.stdout)
        _ = try sharedData("libsvm/mushrooms")
        let named = try run(["data", "inspect", "mushrooms", "--json"], environment: ["AGORA_DATA": sharedDataRoot()])
        XCTAssertEqual(named.status, 0, named.stderr)
        XCTAssertTrue(named.stdout.contains(#""rows":8124"#) && named.stdout.contains(#""features":112"#), named.stdout)
    }

    /// Inputs that are not regular files, or far too large, are refused before they are read;
    /// a negative client count is refused before per-client economics are drawn for it.
    func testDevicesAndNegativeCountsAreRefusedBeforeUse() throws {
        try expectRefusal(["topology", "--topology", "file:/dev/zero", "--agents", "4"], "must be a regular file")
        try expectRefusal(["market", "run", "--config", "/dev/zero"], "must be a regular file")
        try expectRefusal(["dsgd", "--config", scratch], "must be a regular file")
        for flag in [["--K-range", "1e5:1e6"], ["--cost-range", "0.5:2"], ["--economics", "/nonexistent.csv"]] {
            try expectRefusal(["market", "run", "--clients=-1"] + flag, "--clients must be at least 1, got -1")
        }
    }

    /// Standard output that cannot be written (a full device) ends with an error and exit 1,
    /// never exit 0 with the JSON lost.
    func testFailedStandardOutputIsAnError() throws {
        guard let binary = Self.binary else { throw missingResource("the agora binary is not built (swift build first)") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = ["topology", "--topology", "ring", "--agents", "8", "--json"]
        let full = try XCTUnwrap(FileHandle(forWritingAtPath: "/dev/full"))
        let errPath = scratch + "/stderr-full"
        FileManager.default.createFile(atPath: errPath, contents: nil)
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        p.standardOutput = full
        p.standardError = err
        try p.run()
        p.waitUntilExit()
        try? err.close()
        XCTAssertEqual(p.terminationReason, .exit)
        XCTAssertEqual(p.terminationStatus, 1)
        let message = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        XCTAssertTrue(message.contains("writing standard output failed"), message)
    }

    /// An output path that is a device is refused before anything runs (the atomic write would
    /// replace the device node with a regular file).
    func testDevicesAreNotOutputFiles() throws {
        try expectRefusal(["mix", "--agents", "8", "--dim", "10", "--steps", "2", "--csv", "/dev/null"], "it is a device or a pipe")
        try expectRefusal(["mix", "--agents", "8", "--dim", "10", "--steps", "2", "--plot", "/dev/zero"], "it is a device or a pipe")
        var st = stat()
        XCTAssertEqual(stat("/dev/null", &st), 0)
        XCTAssertEqual(st.st_mode & S_IFMT, S_IFCHR, "/dev/null is still a character device")
    }

    /// A configuration naming a field twice is refused with the field and line (a decoder keeps
    /// one of them silently); the same key in different objects is fine.
    func testDuplicateConfigurationFieldsAreRefused() throws {
        let out = scratch + "/dup-run"
        XCTAssertEqual(try run(["market", "run", "--rounds", "1", "--local-steps", "2", "--method", "local", "--out", out]).status, 0)
        let text = try String(contentsOfFile: out + "/config.json", encoding: .utf8)
        XCTAssertEqual(try run(["market", "run", "--config", out + "/config.json"]).status, 0, "a written config.json loads")
        let doubled = text.replacingOccurrences(of: "\"rounds\" : 1,", with: "\"rounds\" : 1,\n  \"rounds\" : 50,")
        XCTAssertNotEqual(doubled, text, "the test must edit the file")
        let bad = try write("dup.json", doubled)
        try expectRefusal(["market", "run", "--config", bad], "the field 'rounds' appears twice in one object")
        let setting = try write("dup-setting.json", #"{"N": 10, "p": [0.5, 0.5], "c": [0.02, 0.01], "N": 4}"#)
        try expectRefusal(["contract", setting], "dup-setting.json:1: the field 'N' appears twice")
        try expectRefusal(["contract", "/dev/zero"], "must be a regular file")
    }

    func testGzipBombIsRefusedBeforeItExhaustsMemory() throws {
        let bomb = scratch + "/bomb.csv.gz"
        let make = Process()
        make.executableURL = URL(fileURLWithPath: "/bin/sh")
        make.arguments = ["-c", "head -c 400000000 /dev/zero | gzip -1 > '\(bomb)'"]
        try make.run()
        make.waitUntilExit()
        guard make.terminationStatus == 0 else { throw missingResource("gzip is not available") }
        try expectRefusal(["data", "inspect", bomb], "needs about", environment: ["AGORA_MEMORY_LIMIT": "512M"])
    }

    func testEdgeListWeightsAreUsedAndValidated() throws {
        let good = try write("w.txt", "0 1 0.5\n1 2 0.5\n2 0 0.5\n")
        let r = try run(["topology", "--topology", "file:" + good, "--agents", "3", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        // W = (J - I)/2 on 3 agents: eigenvalues 1, -1/2, -1/2, so the gap is 1/2 (Metropolis: 1).
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        XCTAssertEqual(json?["spectralGap"] as? Double ?? -1, 0.5, accuracy: 1e-12, r.stdout)
        XCTAssertTrue(r.stdout.contains("edge-list file"), r.stdout)
        let bad = try write("w2.txt", "0 1 0.7\n1 2 0.5\n2 0 0.5\n")
        try expectRefusal(["topology", "--topology", "file:" + bad, "--agents", "3"], "negative weight")
    }

    func testUnwritableOutputIsRefusedBeforeComputing() throws {
        let blocker = try write("a-file", "x")
        try expectRefusal(["dsgd", "--iterations", "5", "--out", blocker + "/sub"], "output folder")
        try expectRefusal(["market", "run", "--rounds", "1", "--out", blocker + "/sub"], "output folder")
        try expectRefusal(["mix", "--agents", "8", "--dim", "10", "--steps", "1", "--csv", scratch + "/missing/x.csv"], "does not exist")
    }

    func testTinyMarketClientsAreRefusedNotNaN() throws {
        try expectRefusal(["market", "run", "--rows", "5", "--rounds", "1"], "minClientRows")
        let empty = try write("m0.json", #"{"clients": [], "distances": []}"#)
        try expectRefusal(["market", "audit", "--market", empty], "at least 2")
    }

    func testEditedOrForeignCheckpointsAreRefused() throws {
        let out = scratch + "/ck"
        let first = try run([
            "dsgd", "--agents", "8", "--topology", "ring", "--iterations", "60", "--checkpoint-every", "20",
            "--stop-after", "20", "--out", out,
        ])
        XCTAssertEqual(first.status, 0, first.stderr)
        let path = out + "/checkpoint.json"
        try expectRefusal(["dsgd", "--resume", path, "--agents", "9"], "different experiment")
        var text = try String(contentsOfFile: path, encoding: .utf8)
        text = text.replacingOccurrences(of: #""iteration":20"#, with: #""iteration":40"#)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        try expectRefusal(["dsgd", "--resume", path], "digest")
        _ = try write("ck/checkpoint.json", "{\"truncated\": ")
        try expectRefusal(["dsgd", "--resume", path], "not an Agora DSGD checkpoint")
    }

    /// `agora info` as users read it; with OpenBLAS pretending to have chosen generic kernels, the
    /// CLI restarts itself with the core the CPU supports and says why (AVX2 or better needed).
    func testInfoReportsTheBLASCoreChoice() throws {
        // `make test` runs the tests on the core Agora selects (OPENBLAS_CORETYPE, marked by
        // AGORA_BLAS_CORE_SET_BY_MAKE): the CLI children here start without it, as a user's would.
        let env = ProcessInfo.processInfo.environment
        let fromMake = env["OPENBLAS_CORETYPE"] != nil && env["OPENBLAS_CORETYPE"] == env["AGORA_BLAS_CORE_SET_BY_MAKE"]
        let clean = fromMake ? ["OPENBLAS_CORETYPE", "AGORA_BLAS_CORE_SET_BY_MAKE"] : []
        let plain = try run(["info"], removing: clean)
        XCTAssertEqual(plain.status, 0, plain.stderr)
        XCTAssertTrue(plain.stdout.contains("OpenBLAS core") && plain.stdout.contains("core choice"), plain.stdout)
        guard env["OPENBLAS_CORETYPE"] == nil || fromMake else {
            throw XCTSkip("OPENBLAS_CORETYPE is set for this run: the CLI keeps the user's core")
        }
        guard let cpu = CPUFeatures.current(), let best = BLASCoreSelection.bestCore(for: cpu), BLASCoreSelection.level(ofCore: best) > 0
        else {
            throw XCTSkip("this CPU offers nothing better than generic kernels")
        }
        let forced = try run(["info"], environment: ["AGORA_BLAS_ASSUME_CORE": "Prescott"], removing: clean)
        XCTAssertEqual(forced.status, 0, forced.stderr)
        XCTAssertTrue(forced.stdout.contains("OpenBLAS core     \(best)"), forced.stdout)
        XCTAssertTrue(forced.stdout.contains("\(best) selected (checked against naive products: correct)"), forced.stdout)
        let selected = try run(["info", "--selected-core"], environment: ["AGORA_BLAS_ASSUME_CORE": "Prescott"], removing: clean)
        XCTAssertEqual(selected.stdout.trimmingCharacters(in: .whitespacesAndNewlines), best)
        let none = try run(["info", "--selected-core"], removing: clean)
        // Without pretending: a core only where OpenBLAS's own choice (the CLI's own, as `info`
        // reports it in AGORA_BLAS_ORIGINAL_CORE when it changed it) is below the CPU.
        let original =
            plain.stdout.split(separator: "\n").first { $0.hasPrefix("env AGORA_BLAS_ORIGINAL_CORE=") }
            .map { String($0.dropFirst("env AGORA_BLAS_ORIGINAL_CORE=".count)) } ?? (fromMake ? nil : OpenBLAS.coreName)
        if let original {
            XCTAssertEqual(
                none.stdout.trimmingCharacters(in: .whitespacesAndNewlines),
                BLASCoreSelection.advice(current: original, cpu: cpu)?.core ?? "")
        } else {
            XCTAssertEqual(none.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "", "no core changed: none selected")
        }
        let off = try run(["info"], environment: ["AGORA_BLAS_ASSUME_CORE": "Prescott", "AGORA_BLAS_SELECT": "0"], removing: clean)
        XCTAssertTrue(off.stdout.contains("core choice       OpenBLAS's own"), off.stdout)
    }

    /// `agora info` names the parallel schedule, and a value of AGORA_PARALLEL_SCHEDULE it does not
    /// know is reported, not silently replaced.
    func testInfoReportsTheParallelSchedule() throws {
        let plain = try run(["info"], environment: ["AGORA_PARALLEL_SCHEDULE": "measured"])
        XCTAssertEqual(plain.status, 0, plain.stderr)
        XCTAssertTrue(
            plain.stdout.contains("parallel regions  measured per kernel loop: serial below 32 KiB, parallel from 8 MiB"), plain.stdout)
        let fixed = try run(["info"], environment: ["AGORA_PARALLEL_SCHEDULE": "threshold"])
        XCTAssertTrue(fixed.stdout.contains("parallel regions  fixed threshold: parallel from 256 KiB"), fixed.stdout)
        let bad = try run(["info"], environment: ["AGORA_PARALLEL_SCHEDULE": "fastest"])
        XCTAssertEqual(bad.status, 0)
        XCTAssertTrue(
            bad.stdout.contains("AGORA_PARALLEL_SCHEDULE=fastest not understood (expected one of measured, threshold): measured is used"),
            bad.stdout)
    }
}
