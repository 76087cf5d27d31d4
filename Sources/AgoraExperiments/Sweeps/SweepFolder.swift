import AgoraCore
import Foundation

/// A sweep's folder: what is done, what failed, the tables. Layout:
///
/// - `sweep.json`: the sweep file as run (the last run's; the cells are named by their command
///   lines, so an edited sweep finds the cells it shares with the old one);
/// - `cells/KEY/`: a finished cell: `cell.json` (its index, settings and command line),
///   `summary.json` (the command's `--json` output) and `out/` (its `--out` folder, for commands
///   that write one). A cell runs in `cells/.running-KEY-PID/` and is renamed into place only when
///   it has finished, so a killed sweep leaves no half cell behind;
/// - `cells/KEY.failed.json`: a cell that failed (exit status, the end of its stderr); the next
///   run of the sweep tries it again;
/// - `results.csv`, `results.jsonl`, `timings.csv`: `SweepTable`, written atomically.
public struct SweepFolder: Sendable {
    public let path: String
    public init(path: String) { self.path = path }

    public var cellsPath: String { path + "/cells" }
    public func cellPath(_ key: String) -> String { cellsPath + "/" + key }
    public func failurePath(_ key: String) -> String { cellsPath + "/" + key + ".failed.json" }

    /// Creates the folder and writes the sweep file's bytes as `sweep.json`.
    public func prepare(sweepFile bytes: [UInt8]) throws {
        do {
            try FileManager.default.createDirectory(atPath: cellsPath, withIntermediateDirectories: true)
        } catch {
            throw AgoraError.io("cannot create the sweep folder: \(error.localizedDescription)", file: path)
        }
        try SystemFile.writeAtomically(bytes, to: path + "/sweep.json")
    }

    /// Whether the cell has finished (its folder holds a summary).
    public func isDone(_ cell: Sweep.Cell) -> Bool {
        FileManager.default.fileExists(atPath: cellPath(cell.key) + "/summary.json")
    }

    /// What the folder holds of the cell.
    public func outcome(_ cell: Sweep.Cell) throws -> SweepOutcome {
        let summary = cellPath(cell.key) + "/summary.json"
        if FileManager.default.fileExists(atPath: summary) {
            return .done(try JSONValue.parse(SystemFile.read(path: summary, maxBytes: 256 << 20, what: "cell summary"), what: summary))
        }
        let failure = failurePath(cell.key)
        if FileManager.default.fileExists(atPath: failure) {
            let v = try JSONValue.parse(SystemFile.read(path: failure, maxBytes: 1 << 20, what: "cell failure"), what: failure)
            guard case .object(let o) = v, let status = o["exitStatus"]?.number, case .string(let message)? = o["message"] else {
                throw AgoraError.data(file: failure, "expected {\"exitStatus\": N, \"message\": \"...\"}")
            }
            return .failed(exitStatus: Int32(status), message: message)
        }
        return .missing
    }

    /// A fresh working folder for a cell about to run (`cells/.running-KEY-PID`).
    public func workingFolder(_ cell: Sweep.Cell, process: Int32) throws -> String {
        let dir = cellsPath + "/.running-\(cell.key)-\(process)"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Records a finished cell: writes its `cell.json` and `summary.json` into the working folder,
    /// then renames the folder into place (one rename: the cell is either whole or absent).
    public func recordSuccess(_ cell: Sweep.Cell, summary: JSONValue, working: String) throws {
        let description: JSONValue = .object([
            "index": .integer(cell.index), "key": .string(cell.key),
            "arguments": .array(cell.arguments.map { .string($0) }),
            "settings": .object(Dictionary(uniqueKeysWithValues: cell.settings.map { ($0.name, $0.value) })),
        ])
        try SystemFile.writeAtomically(description.json + "\n", to: working + "/cell.json")
        try SystemFile.writeAtomically(summary.json + "\n", to: working + "/summary.json")
        let target = cellPath(cell.key)
        if FileManager.default.fileExists(atPath: target) {
            // Another process (a second shard given the same slice) finished it first.
            try? FileManager.default.removeItem(atPath: working)
        } else if rename(working, target) != 0 {
            throw AgoraError.io("cannot move the finished cell into place: \(String(cString: strerror(errno)))", file: target)
        }
        try? FileManager.default.removeItem(atPath: failurePath(cell.key))
    }

    /// Records a failed cell (atomically) and removes its working folder.
    public func recordFailure(_ cell: Sweep.Cell, exitStatus: Int32, message: String, working: String?) throws {
        let v: JSONValue = .object([
            "index": .integer(cell.index), "exitStatus": .integer(Int(exitStatus)), "message": .string(message),
            "arguments": .array(cell.arguments.map { .string($0) }),
        ])
        try SystemFile.writeAtomically(v.json + "\n", to: failurePath(cell.key))
        if let working { try? FileManager.default.removeItem(atPath: working) }
    }

    /// Every cell's outcome, the table built from them, written as results.csv, results.jsonl and
    /// timings.csv.
    @discardableResult
    public func writeTables(_ sweep: Sweep) throws -> (table: SweepTable, outcomes: [SweepOutcome]) {
        let cells = sweep.cells()
        let outcomes = try cells.map(outcome)
        let table = SweepTable(sweep: sweep, cells: cells, outcomes: outcomes)
        try SystemFile.writeAtomically(table.csv, to: path + "/results.csv")
        try SystemFile.writeAtomically(table.jsonLines, to: path + "/results.jsonl")
        try SystemFile.writeAtomically(table.timingsCSV, to: path + "/timings.csv")
        return (table, outcomes)
    }
}
