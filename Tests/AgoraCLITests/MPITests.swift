import AgoraTestSupport
import Foundation
import XCTest

/// The MPI back-end as users run it: `mpirun -np P .build-mpi/release/agora ...` against the same
/// binary with `--backend inprocess`, for P = 1...4 over static and time-varying topologies and
/// agent counts that do not divide by P (and fewer agents than ranks). Parameters must be
/// bit-identical (their digests), and so must every payment, gap and gain in the JSON and in the
/// `--out` files, timings excepted.
///
/// Needs `mpirun` on PATH and the MPI build (`make build-mpi`, or AGORA_MPI_BINARY naming an
/// MPI-enabled agora); skips with a message otherwise. `make test-mpi` builds and runs it.
final class MPITests: XCTestCase {
    static let project = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let binary: String? = {
        let given = ProcessInfo.processInfo.environment["AGORA_MPI_BINARY"]
        let path = given ?? project.appendingPathComponent(".build-mpi/release/agora").path
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }()

    static let mpirun: String? = {
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        return dirs.map { "\($0)/mpirun" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    let scratch = NSTemporaryDirectory() + "agora-mpi-tests-\(ProcessInfo.processInfo.processIdentifier)"

    override func setUpWithError() throws {
        guard Self.mpirun != nil else {
            throw missingResource("mpirun is not installed (apt-get install openmpi-bin libopenmpi-dev; make test-mpi)")
        }
        guard Self.binary != nil else {
            throw missingResource("no MPI build of agora (.build-mpi/release/agora): run `make build-mpi` or `make test-mpi`")
        }
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: scratch) }

    struct Outcome {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// Runs the MPI build, under `mpirun -np ranks` when `ranks` is given, else directly.
    func agora(_ args: [String], ranks: Int?, perRank: [[String]]? = nil) throws -> Outcome {
        let p = Process()
        if let perRank {
            // MPMD: one rank per argument list (`mpirun -np 1 agora A : -np 1 agora B`), to give ranks different inputs.
            p.executableURL = URL(fileURLWithPath: Self.mpirun!)
            p.arguments =
                ["--oversubscribe", "--bind-to", "none"]
                + perRank.enumerated().flatMap { k, a in (k > 0 ? [":"] : []) + ["-np", "1", Self.binary!] + a }
        } else if let ranks {
            p.executableURL = URL(fileURLWithPath: Self.mpirun!)
            p.arguments = ["--oversubscribe", "--bind-to", "none", "-np", "\(ranks)", Self.binary!] + args
        } else {
            p.executableURL = URL(fileURLWithPath: Self.binary!)
            p.arguments = args
        }
        var env = ProcessInfo.processInfo.environment
        env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
        env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        env["AGORA_NUM_THREADS"] = "1"  // several ranks on two cores: one thread each
        p.environment = env
        let tag = UUID().uuidString
        let outPath = scratch + "/out-\(tag)", errPath = scratch + "/err-\(tag)"
        FileManager.default.createFile(atPath: outPath, contents: nil)
        FileManager.default.createFile(atPath: errPath, contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath)),
            err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        defer {
            try? out.close()
            try? err.close()
        }
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let deadline = Date().addingTimeInterval(120)
        while p.isRunning && Date() < deadline { usleep(20_000) }
        if p.isRunning {
            p.terminate()
            XCTFail("\(args.joined(separator: " ")) at \(ranks ?? 0) ranks did not finish within 120 s")
        }
        p.waitUntilExit()
        return Outcome(
            status: p.terminationStatus,
            stdout: String(decoding: FileManager.default.contents(atPath: outPath) ?? Data(), as: UTF8.self),
            stderr: String(decoding: FileManager.default.contents(atPath: errPath) ?? Data(), as: UTF8.self))
    }

    /// The JSON object with every timing field removed (they differ between any two runs).
    func numbers(_ text: String, _ label: String) throws -> NSDictionary {
        let any = try JSONSerialization.jsonObject(with: Data(text.utf8))
        func strip(_ v: Any) -> Any {
            if let d = v as? [String: Any] {
                var o: [String: Any] = [:]
                for (k, x) in d where !k.lowercased().contains("second") && k != "timing" { o[k] = strip(x) }
                return o
            }
            if let a = v as? [Any] { return a.map(strip) }
            return v
        }
        return try XCTUnwrap(strip(any) as? [String: Any], label) as NSDictionary
    }

    /// Runs `args` in process and under mpirun at each of `ranks`, each with its own --out
    /// folder: rank 0's JSON (timings aside) and the named --out files must equal the in-process
    /// run's byte for byte (and, with `digest`, the JSON must carry a parameters digest).
    @discardableResult
    func assertIdenticalToInProcess(
        _ args: [String], ranks: [Int], files: [String], tag: String, digest: Bool = false
    ) throws
        -> NSDictionary
    {
        let baseOut = scratch + "/\(tag.replacingOccurrences(of: " ", with: "-"))-inprocess"
        let base = try agora(args + ["--backend", "inprocess", "--out", baseOut], ranks: nil)
        XCTAssertEqual(base.status, 0, base.stderr)
        let reference = try numbers(base.stdout, "\(tag) in process")
        if digest { XCTAssertNotNil(reference["parametersDigest"] as? String, base.stdout) }
        for p in ranks {
            let label = "\(tag) at \(p) ranks"
            let out = scratch + "/\(tag.replacingOccurrences(of: " ", with: "-"))-\(p)"
            let r = try agora(args + ["--out", out], ranks: p)
            XCTAssertEqual(r.status, 0, "\(label)\n\(r.stderr)")
            XCTAssertEqual(try numbers(r.stdout, label), reference, label)
            for file in files {
                let a = FileManager.default.contents(atPath: baseOut + "/" + file),
                    b = FileManager.default.contents(atPath: out + "/" + file)
                XCTAssertNotNil(b, "\(label): \(file) not written")
                XCTAssertEqual(a, b, "\(label): \(file) differs from the in-process run's")
            }
        }
        return reference
    }

    static let topologies = ["ring", "exponential", "one-peer-exponential"]

    func testMixIsBitIdenticalAtEveryRankCount() throws {
        for topology in Self.topologies {
            for (n, d) in [(3, 5), (16, 33)] {
                let args = [
                    "mix", "--topology", topology, "--agents", "\(n)", "--dim", "\(d)", "--steps", "9", "--strategy", "sparse", "--json",
                ]
                let base = try agora(args + ["--backend", "inprocess"], ranks: nil)
                XCTAssertEqual(base.status, 0, base.stderr)
                let reference = try numbers(base.stdout, "in process")
                XCTAssertNotNil(reference["parametersDigest"] as? String)
                for ranks in 1...4 {
                    let r = try agora(args, ranks: ranks)
                    let label = "mix \(topology) n=\(n) d=\(d) at \(ranks) ranks"
                    XCTAssertEqual(r.status, 0, "\(label)\n\(r.stderr)")
                    let got = try numbers(r.stdout, label)
                    XCTAssertEqual(got["parametersDigest"] as? String, reference["parametersDigest"] as? String, label)
                    XCTAssertEqual(got, reference, label)
                }
            }
        }
    }

    /// Default flags: the strategy comes from the problem (GEMM for the exponential graphs on 16
    /// and 64 agents, density at least 0.1; sparse for the ring on 64), and under mpirun the same
    /// JSON (`usesGEMM` included) and files come out at 1-4 ranks as in process; a forced dense
    /// strategy too.
    func testDefaultFlagsGiveIdenticalNumbersAtEveryRankCount() throws {
        try assertIdenticalToInProcess(
            ["dsgd", "--agents", "16", "--topology", "exponential", "--iterations", "60", "--inflate", "3:3", "--json"],
            ranks: [1, 2, 3, 4], files: ["metrics.csv", "gains.csv"], tag: "dsgd default", digest: true)
        try assertIdenticalToInProcess(
            ["dsgd", "--agents", "9", "--topology", "ring", "--iterations", "30", "--mix-strategy", "dense", "--json"],
            ranks: [2, 3], files: ["metrics.csv"], tag: "dsgd dense", digest: true)
        for (topology, gemm) in [("exponential", true), ("ring", false)] {
            let args = ["mix", "--topology", topology, "--agents", "64", "--dim", "50", "--steps", "5", "--json"]
            let base = try agora(args + ["--backend", "inprocess"], ranks: nil)
            XCTAssertEqual(base.status, 0, base.stderr)
            let reference = try numbers(base.stdout, "in process")
            XCTAssertEqual(reference["usesGEMM"] as? Bool, gemm, "\(topology): the strategy auto picks")
            for ranks in 1...4 {
                let r = try agora(args, ranks: ranks)
                let label = "mix \(topology) default flags at \(ranks) ranks"
                XCTAssertEqual(r.status, 0, "\(label)\n\(r.stderr)")
                XCTAssertEqual(try numbers(r.stdout, label), reference, label)
            }
        }
    }

    /// `make build-mpi` (like `make build`) generates code for the CPU it builds on; the tests'
    /// own agora is a portable debug build. Both must print the same numbers (no fast-math, no FMA
    /// contraction, the same summation orders at any vector width): DSGD, the mix and the market.
    func testTheTunedReleaseBuildPrintsThePortableDebugBuildsNumbers() throws {
        guard let portable = RobustnessTests.binary else { throw missingResource("the debug build of agora (swift build --product agora)") }
        for args in [
            ["dsgd", "--agents", "64", "--iterations", "40", "--inflate", "3:3", "--json"],
            ["mix", "--topology", "exponential", "--agents", "64", "--dim", "50", "--steps", "5", "--json"],
            ["market", "run", "--rounds", "2", "--local-steps", "5", "--json"],
        ] {
            let tuned = try agora(args + ["--backend", "inprocess"], ranks: nil)
            XCTAssertEqual(tuned.status, 0, tuned.stderr)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: portable)
            p.arguments = args
            let pipe = Pipe()
            p.standardOutput = pipe
            try p.run()
            let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            XCTAssertEqual(p.terminationStatus, 0, args.joined(separator: " "))
            XCTAssertEqual(
                try numbers(tuned.stdout, "tuned \(args[0])"), try numbers(text, "portable \(args[0])"), args.joined(separator: " "))
        }
    }

    func testDSGDWithDeviatorsIsIdenticalAtEveryRankCount() throws {
        for topology in Self.topologies {
            let n = topology == "ring" ? 5 : 7
            let args = [
                "dsgd", "--agents", "\(n)", "--topology", topology, "--rows", "30", "--features", "4", "--batch", "4",
                "--iterations", "60", "--inflate", "1:2", "--noise", "3:0.5", "--best-response", "\(n - 1)",
                "--mix-strategy", "sparse", "--json",
            ]
            // Every evaluation's payments, utilities and parameter digest are in the --out files.
            try assertIdenticalToInProcess(
                args, ranks: Array(1...4), files: ["metrics.csv", "metrics.jsonl", "gains.csv"],
                tag: "dsgd \(topology) n=\(n)", digest: true)
        }
    }

    func testCheckpointUnderMPIResumesAtAnotherRankCount() throws {
        // Stopped in the second run at 2 ranks (the root gathers and writes every agent's state),
        // resumed at 3 ranks and, from a fresh stop, in process: both equal the uninterrupted run.
        let args = [
            "dsgd", "--agents", "7", "--topology", "one-peer-exponential", "--rows", "30", "--features", "4", "--batch", "4",
            "--iterations", "60", "--inflate", "1:2", "--noise", "3:0.5", "--best-response", "6", "--mix-strategy", "sparse",
        ]
        let baseOut = scratch + "/ck-base"
        let base = try agora(args + ["--backend", "inprocess", "--json", "--out", baseOut], ranks: nil)
        XCTAssertEqual(base.status, 0, base.stderr)
        let reference = try numbers(base.stdout, "uninterrupted")
        for (resumeRanks, label) in [(3 as Int?, "resumed at 3 ranks"), (nil, "resumed in process")] {
            let out = scratch + "/ck-\(resumeRanks ?? 0)"
            let stop = try agora(args + ["--out", out, "--checkpoint-every", "10", "--stop-after", "130"], ranks: 2)
            XCTAssertEqual(stop.status, 0, stop.stderr)
            XCTAssertTrue(stop.stdout.contains("stopped after 130 iterations"), stop.stdout)
            var resume = ["dsgd", "--resume", out + "/checkpoint.json", "--out", out, "--checkpoint-every", "10", "--json"]
            if resumeRanks == nil { resume += ["--backend", "inprocess"] }
            let r = try agora(resume, ranks: resumeRanks)
            XCTAssertEqual(r.status, 0, "\(label)\n\(r.stderr)")
            XCTAssertEqual(try numbers(r.stdout, label), reference, label)
            XCTAssertEqual(
                FileManager.default.contents(atPath: baseOut + "/metrics.jsonl"),
                FileManager.default.contents(atPath: out + "/metrics.jsonl"), label)
        }
    }

    func testMarketWithClientsOverRanksIsIdentical() throws {
        // Every method, an attacker, the prox pilot and an MLP (training the block of each rank,
        // the server's step on the shared matrix): JSON and every --out file as in process.
        let args = [
            "market", "run", "--clients", "7", "--rounds", "3", "--local-steps", "4", "--method", "all", "--hidden", "6",
            "--attack", "2:sign-flip", "--json",
        ]
        try assertIdenticalToInProcess(args, ranks: [2, 3, 4], files: ["rounds.csv", "clients.csv", "graph.dot"], tag: "market")
    }

    func testOneProcessStudiesRefuseAnMPILaunch() throws {
        let r = try agora(["dsgd", "horizon", "--agents", "4", "--horizons", "20"], ranks: 2)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("start it without mpirun"), r.stderr)
    }

    func testAnErrorOnAnyRankEndsTheJobCleanly() throws {
        let r = try agora(["dsgd", "--agents", "4", "--data", scratch + "/missing.libsvm", "--iterations", "10"], ranks: 2)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("missing.libsvm"), r.stderr)
        XCTAssertFalse(r.stderr.contains("Fatal error"), r.stderr)
    }

    /// A small LIBSVM file in the scratch folder: `rows` lines of label 1/-1 (every `period`-th +1)
    /// and three features derived from the line number.
    func writeLIBSVM(_ name: String, rows: Int, period: Int) throws -> String {
        let path = scratch + "/" + name
        let lines = (0..<rows).map { i in "\(i % period == 0 ? 1 : -1) 1:\(Double(i % 7) / 7) 3:\(Double(i % 11) / 11) 4:\(i % 2)" }
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// A failure on one rank only (rank 1's data file is missing, rank 0's is fine) ends every
    /// rank with that rank's message, instead of rank 0 waiting in a collective.
    func testAFailureOnOneRankOnlyEndsTheJob() throws {
        let good = try writeLIBSVM("good.libsvm", rows: 40, period: 2)
        let common = ["dsgd", "--agents", "4", "--topology", "ring", "--iterations", "10"]
        let r = try agora([], ranks: nil, perRank: [common + ["--data", good], common + ["--data", scratch + "/absent.libsvm"]])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("absent.libsvm"), r.stderr)
        XCTAssertFalse(r.stderr.contains("Fatal error"), r.stderr)
    }

    /// DSGD on a data file (`--data`): the same numbers and files at 1-3 ranks as in process.
    func testDSGDOnADataFileIsIdenticalAtEveryRankCount() throws {
        let file = try writeLIBSVM("train.libsvm", rows: 120, period: 3)
        let args = [
            "dsgd", "--agents", "5", "--topology", "exponential", "--data", file, "--partition", "dirichlet:0.5", "--iterations", "30",
            "--inflate", "1:2", "--mix-strategy", "sparse", "--json",
        ]
        try assertIdenticalToInProcess(args, ranks: [1, 2, 3], files: ["metrics.csv", "gains.csv"], tag: "dsgd data", digest: true)
    }

    /// An output the reporting rank cannot write ends the whole job with its message (the other
    /// ranks used to wait in a collective forever).
    func testAnUnwritableOutputOnTheRootEndsEveryRank() throws {
        for args in [
            ["mix", "--topology", "ring", "--agents", "8", "--dim", "10", "--steps", "3", "--csv", "/nonexistent-folder/steps.csv"],
            ["dsgd", "--agents", "4", "--topology", "ring", "--iterations", "10", "--out", "/proc/agora-out"],
            ["market", "run", "--rounds", "1", "--local-steps", "2", "--method", "local", "--out", "/proc/agora-out"],
        ] {
            let r = try agora(args, ranks: 2)
            XCTAssertNotEqual(r.status, 0, "\(args.joined(separator: " "))")
            XCTAssertTrue(
                r.stderr.contains("cannot write") || r.stderr.contains("cannot create"), "\(args.joined(separator: " ")): \(r.stderr)")
        }
    }

    /// `agora sweep` under mpirun is a task farm (rank 0 hands out cells, the others run them):
    /// the table is the in-process sweep's byte for byte at 1-3 ranks, and a second run under
    /// mpirun finds every cell done.
    func testSweepTaskFarmWritesTheInProcessTable() throws {
        let file = scratch + "/farm.json"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        try """
        { "command": "dsgd run", "options": { "agents": 6, "iterations": 20, "inflate": "0:2" },
          "axes": [ { "name": "topology", "values": ["ring", "exponential"] } ], "seeds": 2 }
        """.write(toFile: file, atomically: true, encoding: .utf8)
        let base = try agora(["sweep", file, "--out", scratch + "/farm-inprocess", "--backend", "inprocess"], ranks: nil)
        XCTAssertEqual(base.status, 0, base.stderr)
        let reference = FileManager.default.contents(atPath: scratch + "/farm-inprocess/results.csv")
        XCTAssertNotNil(reference)
        for p in 1...3 {
            let out = scratch + "/farm-\(p)"
            let r = try agora(["sweep", file, "--out", out], ranks: p)
            XCTAssertEqual(r.status, 0, "\(p) ranks: \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("task farm"), r.stderr)
            XCTAssertEqual(FileManager.default.contents(atPath: out + "/results.csv"), reference, "\(p) ranks")
            XCTAssertEqual(
                FileManager.default.contents(atPath: out + "/results.jsonl"),
                FileManager.default.contents(atPath: scratch + "/farm-inprocess/results.jsonl"), "\(p) ranks")
        }
        let again = try agora(["sweep", file, "--out", scratch + "/farm-3"], ranks: 3)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stderr.contains("0 of 4 cells to run"), again.stderr)
    }

    /// A method that diverges stops at the same round on every back-end (the check runs after the
    /// rows are shared), and the run goes on with the other methods: the same JSON at 1-3 ranks.
    func testADivergingMethodStopsAlikeAtEveryRankCount() throws {
        _ = try sharedData("uci/digits.csv.gz")
        setenv("AGORA_DATA", sharedDataRoot(), 1)
        let args = [
            "market", "run", "--data", "digits", "--method", "local,fedfomo", "--partition", "dirichlet:0.1", "--seed", "2", "--rounds",
            "7",
            "--json",
        ]
        let reference = try assertIdenticalToInProcess(args, ranks: [1, 2, 3], files: ["rounds.csv"], tag: "market diverged")
        let methods = try XCTUnwrap(reference["methods"] as? [[String: Any]])
        let fomo = try XCTUnwrap(methods.first { $0["method"] as? String == "fedfomo" })
        XCTAssertTrue((fomo["diverged"] as? String)?.hasPrefix("round 6:") ?? false, "the method does diverge: \(fomo)")
    }

    /// A 3 x 2 x 2 sweep of `market run` (methods x partitions x seeds): the same results.csv and
    /// results.jsonl in process, under mpirun -np 3 (task farm), and as 2 shards merged by --collect.
    func testAMarketSweepIsTheSameInEveryMode() throws {
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        let file = scratch + "/market-sweep.json"
        try """
        { "command": "market run", "options": { "rounds": 2, "local-steps": 3 },
          "axes": [ { "name": "method", "values": ["ipfl", "local", "fedavg"] },
                    { "name": "partition", "values": ["iid", "dirichlet:0.5"] } ], "seeds": 2 }
        """.write(toFile: file, atomically: true, encoding: .utf8)
        let base = try agora(["sweep", file, "--out", scratch + "/ms-inprocess", "--backend", "inprocess"], ranks: nil)
        XCTAssertEqual(base.status, 0, base.stderr)
        let farm = try agora(["sweep", file, "--out", scratch + "/ms-farm"], ranks: 3)
        XCTAssertEqual(farm.status, 0, farm.stderr)
        for k in 0..<2 {
            let shard = try agora(
                ["sweep", file, "--out", scratch + "/ms-shards", "--shard", "\(k)/2", "--backend", "inprocess"], ranks: nil)
            XCTAssertEqual(shard.status, 0, shard.stderr)
        }
        let collect = try agora(["sweep", file, "--out", scratch + "/ms-shards", "--collect", "--backend", "inprocess"], ranks: nil)
        XCTAssertEqual(collect.status, 0, collect.stderr)
        let reference = FileManager.default.contents(atPath: scratch + "/ms-inprocess/results.csv")
        XCTAssertEqual(String(decoding: reference ?? Data(), as: UTF8.self).split(separator: "\n").count, 13, "a header and 12 cells")
        for mode in ["ms-farm", "ms-shards"] {
            XCTAssertEqual(FileManager.default.contents(atPath: scratch + "/\(mode)/results.csv"), reference, mode)
            XCTAssertEqual(
                FileManager.default.contents(atPath: scratch + "/\(mode)/results.jsonl"),
                FileManager.default.contents(atPath: scratch + "/ms-inprocess/results.jsonl"), mode)
        }
    }
}
