import AgoraDistributed
import AgoraExperiments
import AgoraKernels
import ArgumentParser
import Foundation

/// `agora sweep FILE`: every cell of a sweep file run as its own `agora` process (a crash or a
/// refused option fails that cell only), its `--json` summary kept in the sweep's folder, and one
/// table of all cells (`SweepFolder`, `SweepTable`).
struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract:
            "Run a grid of agora commands from a sweep file into one table: in process on a pool of workers, as a task farm under mpirun, or as shards of a Slurm array; resumable.",
        discussion: """
            A sweep file (JSON) names a command, fixed options, axes (lists, ranges, zipped lists) and seeds; \
            docs/sweeps.md describes it and examples/sweeps/ has the papers' grids. Every cell is a separate \
            `agora` process; the folder keeps each finished cell under its digest, so running the sweep again \
            runs only the missing or failed cells. The table: FOLDER/results.csv and results.jsonl (one row \
            per cell, the same bytes in every mode), timings in FOLDER/timings.csv.
            """
    )

    @Argument(help: "The sweep file (JSON).") var file: String
    @Option(help: "The sweep's folder (default: the file's name without .json, plus .sweep, in the current directory).")
    var out: String?
    @Flag(help: "Print the cells (index, key, whether done, command line) and run nothing.") var dryRun = false
    @Option(help: "Cells at a time in process (default: the cores, at most the cells to run). Each cell gets cores / jobs threads.")
    var jobs: Int?
    @Option(
        help:
            "Run only shard K of N (K in 0..<N): the cells whose index is K modulo N. Under a Slurm array (SLURM_ARRAY_TASK_ID set) the default is the array task's place in the array."
    ) var shard: String?
    @Flag(help: "Run nothing: write results.csv, results.jsonl and timings.csv from the cells finished so far (after shards).")
    var collect = false
    @Flag(help: "Print a JSON summary of the sweep on stdout (cells, done, failed, missing, the folder).") var json = false
    @OptionGroup var backendOptions: BackendOptions

    func run() throws {
        let sweep = try Sweep.load(path: file)
        let bytes = try SystemFile.read(path: file, maxBytes: 16 << 20, what: "sweep file")
        let folder = SweepFolder(path: out ?? defaultFolder())
        let cells = sweep.cells()
        if dryRun {
            try check(sweep, cells)
            print(pad("cell", 6) + pad("key", 18) + pad("state", 8) + "command")
            for c in cells {
                let state =
                    folder.isDone(c) ? "done" : (FileManager.default.fileExists(atPath: folder.failurePath(c.key)) ? "failed" : "to run")
                print(pad("\(c.index)", 6) + pad(c.key, 18) + pad(state, 8) + "agora " + c.arguments.map(shellWord).joined(separator: " "))
            }
            print("\(cells.count) cells; folder \(folder.path)")
            return
        }
        if collect { return try finish(sweep, folder, complete: true) }
        try check(sweep, cells)
        try folder.prepare(sweepFile: bytes)
        #if MPI
        if try backendOptions.usesMPI() {
            try MPISession.start()
            return try runTaskFarm(sweep, folder)
        }
        #else
        _ = try backendOptions.usesMPI()
        #endif
        let (k, n) = try shardChoice()
        let mine = n > 1 ? sweep.cells(shard: k, of: n) : cells
        let todo = mine.filter { !folder.isDone($0) }
        let cores = Platform.availableProcessors()
        let workers = max(1, min(jobs ?? cores, todo.count))
        let threads = max(1, cores / workers)
        FileHandle.standardError.write(
            Data(
                "sweep: \(cells.count) cells\(n > 1 ? ", shard \(k)/\(n): \(mine.count)" : ""), \(mine.count - todo.count) done already, \(todo.count) to run on \(workers) worker\(workers == 1 ? "" : "s") x \(threads) thread\(threads == 1 ? "" : "s"); folder \(folder.path)\n"
                    .utf8))
        let runner = try CellRunner(sweep: sweep, folder: folder, threads: threads)
        let board = Board(total: todo.count)
        let next = Counter()
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while let i = next.take(below: todo.count) {
                board.started()
                let ok = runner.run(todo[i])
                board.finished(ok: ok, cell: todo[i])
            }
        }
        board.close()
        // A shard writes the table only when the whole sweep is done (`--collect` merges before).
        try finish(sweep, folder, complete: n == 1 || cells.allSatisfy(folder.isDone), failedHere: board.failed)
    }

    func defaultFolder() -> String {
        var name = URL(fileURLWithPath: file).lastPathComponent
        if name.hasSuffix(".json") { name.removeLast(5) }
        return name + ".sweep"
    }

    /// Parses every cell's command line as `agora` would (all of them up to 5000 cells, beyond that
    /// the cells that differ from the first in one axis): a typo fails the sweep before it starts.
    func check(_ sweep: Sweep, _ cells: [Sweep.Cell]) throws {
        var sample = cells
        if cells.count > 5000 {
            var picked: Set<Int> = [0], stride = 1
            for axis in sweep.axes.reversed() {
                for k in 0..<axis.count { picked.insert(k * stride) }
                stride *= axis.count
            }
            sample = picked.sorted().map { cells[$0] }
        }
        for c in sample {
            do {
                _ = try Agora.parseAsRoot(c.arguments + ["--json"])
            } catch {
                let message = Agora.message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
                throw CLIError(
                    "\(file): cell \(c.index) (\(c.settings.map { "\($0.name)=\($0.value.scalarText ?? $0.value.json)" }.joined(separator: ", "))): agora \(c.arguments.joined(separator: " ")): \(message)"
                )
            }
        }
    }

    /// (K, N) from --shard K/N, else from a Slurm array's variables, else (0, 1).
    func shardChoice() throws -> (Int, Int) {
        if let shard {
            let p = shard.split(separator: "/")
            guard p.count == 2, let k = Int(p[0]), let n = Int(p[1]), n >= 1, k >= 0, k < n else {
                throw ValidationError("--shard '\(shard)': expected K/N with 0 <= K < N, e.g. 0/4")
            }
            return (k, n)
        }
        let env = ProcessInfo.processInfo.environment
        if let id = env["SLURM_ARRAY_TASK_ID"].flatMap(Int.init), let count = env["SLURM_ARRAY_TASK_COUNT"].flatMap(Int.init), count >= 1 {
            let first = env["SLURM_ARRAY_TASK_MIN"].flatMap(Int.init) ?? 0
            let k = id - first
            guard k >= 0, k < count else {
                throw CLIError("SLURM_ARRAY_TASK_ID \(id) is outside the array (min \(first), count \(count)); give --shard K/N")
            }
            FileHandle.standardError.write(Data("sweep: Slurm array task \(id): shard \(k)/\(count)\n".utf8))
            return (k, count)
        }
        return (0, 1)
    }

    /// Writes the tables (when `complete`), prints the summary; fails when cells failed.
    func finish(_ sweep: Sweep, _ folder: SweepFolder, complete: Bool, failedHere: Int = 0) throws {
        let cells = sweep.cells()
        var done = 0, failed = 0, missing = 0
        if complete {
            let (_, outcomes) = try folder.writeTables(sweep)
            for o in outcomes {
                switch o {
                case .done: done += 1
                case .failed: failed += 1
                case .missing: missing += 1
                }
            }
        } else {
            done = cells.filter(folder.isDone).count
            failed = cells.filter { !folder.isDone($0) && FileManager.default.fileExists(atPath: folder.failurePath($0.key)) }.count
            missing = cells.count - done - failed
        }
        let collectCommand = "agora sweep \(shellWord(file))\(out.map { " --out \(shellWord($0))" } ?? "") --collect"
        let where_ = complete ? "results in \(folder.path)/results.csv" : "other shards still to finish, then: \(collectCommand)"
        FileHandle.standardError.write(
            Data("sweep: \(done) done, \(failed) failed, \(missing) missing of \(cells.count); \(where_)\n".utf8))
        if json {
            let v: JSONValue = .object([
                "cells": .integer(cells.count), "done": .integer(done), "failed": .integer(failed), "missing": .integer(missing),
                "folder": .string(folder.path), "tablesWritten": .bool(complete),
            ])
            print(v.json)
        }
        if failed > 0 || failedHere > 0 {
            throw CLIError(
                "\(failed) cell\(failed == 1 ? "" : "s") failed (their errors: the error column of results.csv, or cells/KEY.failed.json); run the sweep again to retry them"
            )
        }
    }

    #if MPI
    /// Under mpirun: rank 0 hands out the cells still to run one at a time as ranks ask for them
    /// (`MPITaskFarm`), the other ranks run them; rank 0 then writes the tables. Alone (one rank),
    /// rank 0 runs them itself.
    func runTaskFarm(_ sweep: Sweep, _ folder: SweepFolder) throws {
        let rank = try MPIRuntime.rank(), size = try MPIRuntime.size()
        let todo = sweep.cells().filter { !folder.isDone($0) }
        if rank == 0 {
            FileHandle.standardError.write(
                Data(
                    "sweep: \(todo.count) of \(sweep.count) cells to run on \(max(1, size - 1)) rank\(size > 2 ? "s" : "") (task farm); folder \(folder.path)\n"
                        .utf8))
        }
        let runner = try CellRunner(sweep: sweep, folder: folder, threads: Int(Platform.environment("AGORA_NUM_THREADS") ?? "") ?? 1)
        var failedHere = 0
        try MPITaskFarm.run(count: todo.count) { i in
            if !runner.run(todo[i]) { failedHere += 1 }
        }
        let failed = Int(try MPIRuntime.sum(Double(failedHere)))
        if rank == 0 { try finish(sweep, folder, complete: true, failedHere: failed) }
    }
    #endif
}

/// Runs one cell as a child `agora` process (posix_spawn; stdin from /dev/null, stdout and stderr
/// to files in the cell's working folder) and records the outcome in the folder.
struct CellRunner: Sendable {
    let sweep: Sweep
    let folder: SweepFolder
    let executable: String
    let environment: [String]

    /// Commands whose results include an `--out` folder worth keeping.
    static let writesFolder: Set<String> = ["dsgd run", "dsgd horizon", "dsgd equilibrium", "market run", "market reproduce", "contract"]

    init(sweep: Sweep, folder: SweepFolder, threads: Int) throws {
        self.sweep = sweep
        self.folder = folder
        executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        // A child is an ordinary run: not an MPI rank (it would try to join the job), not an array
        // task, and with the threads its share of the cores allows.
        let dropped = ["OMPI_", "PMIX_", "PMI_", "OPAL_", "HYDRA_", "MPI_LOCALNRANKS", "MPI_LOCALRANKID"]
        var env = ProcessInfo.processInfo.environment.filter { key, _ in !dropped.contains { key.hasPrefix($0) } }
        env["AGORA_NUM_THREADS"] = String(threads)
        env["OPENBLAS_NUM_THREADS"] = String(threads)
        environment = env.keys.sorted().map { "\($0)=\(env[$0]!)" }
    }

    /// Runs the cell; true when it finished.
    func run(_ cell: Sweep.Cell) -> Bool {
        do {
            let working = try folder.workingFolder(cell, process: getpid())
            var args = cell.arguments + ["--json"]
            if Self.writesFolder.contains(sweep.command) { args += ["--out", working + "/out"] }
            let status = try spawn(args, stdout: working + "/stdout.json", stderr: working + "/log.txt")
            let log = (try? String(contentsOfFile: working + "/log.txt", encoding: .utf8)) ?? ""
            guard status == 0 else {
                try folder.recordFailure(cell, exitStatus: status, message: Self.tail(log), working: working)
                return false
            }
            let output = try SystemFile.read(path: working + "/stdout.json", maxBytes: 256 << 20, what: "cell output")
            let summary: JSONValue
            do {
                summary = try JSONValue.parse(output, what: "the cell's standard output")
            } catch {
                try folder.recordFailure(cell, exitStatus: 0, message: "its output was not one JSON object: \(error)", working: working)
                return false
            }
            try? FileManager.default.removeItem(atPath: working + "/stdout.json")
            try folder.recordSuccess(cell, summary: summary, working: working)
            return true
        } catch {
            try? folder.recordFailure(cell, exitStatus: -1, message: "\(error)", working: nil)
            return false
        }
    }

    /// The last lines of a log (progress lines drawn with carriage returns reduced to their end).
    static func tail(_ log: String) -> String {
        let lines = log.split(whereSeparator: { $0 == "\n" }).map { $0.split(separator: "\r").last.map(String.init) ?? "" }
            .map { $0.replacingOccurrences(of: "\u{1B}[K", with: "") }.filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        let text = lines.suffix(3).joined(separator: " | ")
        return text.isEmpty ? "(nothing on stderr)" : String(text.suffix(600))
    }

    /// posix_spawn of this executable with `args`; the exit status (128 + the signal when killed).
    func spawn(_ args: [String], stdout: String, stderr: String) throws -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + args).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var pid = pid_t()
        let rc = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard rc == 0 else { throw CLIError("cannot start \(executable): \(String(cString: strerror(rc)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw CLIError("waiting for a cell: \(String(cString: strerror(errno)))") }
        }
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }
}

/// The next index to take, shared by the workers.
final class Counter: @unchecked Sendable {
    private var value = 0
    private let lock = NSLock()
    func take(below limit: Int) -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard value < limit else { return nil }
        value += 1
        return value - 1
    }
}

/// Progress of the cells: on a terminal one line redrawn (done, failed, running, ETA); otherwise
/// a line per finished cell.
final class Board: @unchecked Sendable {
    let total: Int
    let start = DispatchTime.now().uptimeNanoseconds
    let tty = isatty(2) != 0
    private let lock = NSLock()
    private(set) var done = 0, failed = 0, running = 0

    init(total: Int) { self.total = total }

    func started() {
        lock.lock()
        running += 1
        draw()
        lock.unlock()
    }

    func finished(ok: Bool, cell: Sweep.Cell) {
        lock.lock()
        running -= 1
        if ok { done += 1 } else { failed += 1 }
        if !tty || !ok {
            let state = ok ? "done" : "FAILED"
            let line =
                "cell \(cell.index) \(state) (\(done + failed)/\(total)): \(cell.settings.map { "\($0.name)=\($0.value.scalarText ?? $0.value.json)" }.joined(separator: " "))"
            FileHandle.standardError.write(Data(((tty ? "\r\u{1B}[K" : "") + line + "\n").utf8))
        }
        draw()
        lock.unlock()
    }

    private func draw() {
        guard tty else { return }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        let finished = done + failed
        let eta = finished > 0 ? elapsed / Double(finished) * Double(total - finished) : .nan
        let etaText = eta.isFinite ? String(format: "ETA %.0f s", eta) : "ETA -"
        FileHandle.standardError.write(
            Data("\r\u{1B}[Ksweep: \(done)/\(total) done, \(failed) failed, \(running) running, \(etaText)".utf8))
    }

    func close() {
        if tty { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}

/// A word as a POSIX shell reads it back.
func shellWord(_ s: String) -> String {
    let safe = s.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || "-_./:=,+@%".unicodeScalars.contains($0) }
    return safe && !s.isEmpty ? s : "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
}
