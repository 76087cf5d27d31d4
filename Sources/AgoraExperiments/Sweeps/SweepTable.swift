import AgoraCore
import AgoraReports
import Foundation

/// What a sweep folder holds of one cell.
public enum SweepOutcome: Sendable, Equatable {
    /// Finished: the command's `--json` summary.
    case done(JSONValue)
    /// Ran and failed: its exit status and the end of what it wrote on stderr.
    case failed(exitStatus: Int32, message: String)
    /// Not run yet (or run by a shard that has not finished).
    case missing

    public var status: String {
        switch self {
        case .done: return "done"
        case .failed: return "failed"
        case .missing: return "missing"
        }
    }
}

/// The one tidy table of a sweep: a row per cell in grid order; the configuration columns (the
/// cell's index and key, its status, every axis option, every fixed option) then the metric
/// columns (every scalar of the cell's `--json` summary, nested keys joined by dots, in the order
/// they first appear), then `error`. Timings (`timing.*` and any key that names seconds) vary from
/// run to run, so they go to a table of their own: the results are the same bytes whether the
/// cells ran in process, under mpirun at any rank count, or as shards. Lists in a summary (per-agent
/// values, say) stay in the cell's `summary.json`.
public struct SweepTable: Sendable {
    public var columns: [String]
    public var rows: [[JSONValue?]]
    public var timingColumns: [String]
    public var timingRows: [[JSONValue?]]

    /// A summary's scalars, nested keys joined by dots (keys sorted). A list of objects is keyed by
    /// each element's `method`, `name` or `agent` (`methods.ipfl.meanBestAccuracy`,
    /// `strategic.0.gainWithPayments`); other lists (per-step series, per-agent numbers) are left
    /// out: they stay in the cell's summary.json.
    public static func flatten(_ value: JSONValue, prefix: String = "") -> [(String, JSONValue)] {
        func join(_ k: String) -> String { prefix.isEmpty ? k : prefix + "." + k }
        switch value {
        case .object(let o):
            return o.keys.sorted().flatMap { k in flatten(o[k]!, prefix: join(k)) }
        case .array(let list):
            var out: [(String, JSONValue)] = []
            for element in list {
                guard case .object(let o) = element else { continue }
                guard let id = ["method", "name", "agent"].lazy.compactMap({ o[$0]?.scalarText }).first else { continue }
                out += flatten(element, prefix: join(id))
            }
            return out
        case .null: return []
        default: return [(prefix.isEmpty ? "value" : prefix, value)]
        }
    }

    /// Whether a metric is a timing (kept out of the results table).
    public static func isTiming(_ key: String) -> Bool {
        key == "timing" || key.hasPrefix("timing.") || key.lowercased().contains("seconds")
    }

    public init(sweep: Sweep, cells: [Sweep.Cell], outcomes: [SweepOutcome]) {
        precondition(cells.count == outcomes.count)
        let config = ["cell", "key", "status"] + sweep.axisNames + sweep.options.map(\.name)
        var metrics: [String] = [], timings: [String] = [], known = Set(config)
        var flat: [[String: JSONValue]] = []
        for outcome in outcomes {
            var row: [String: JSONValue] = [:]
            if case .done(let summary) = outcome {
                for (key, v) in Self.flatten(summary) {
                    // A metric named like a configuration column keeps both, the metric prefixed.
                    let name = config.contains(key) ? "result." + key : key
                    row[name] = v
                    if known.insert(name).inserted {
                        if Self.isTiming(name) { timings.append(name) } else { metrics.append(name) }
                    }
                }
            }
            flat.append(row)
        }
        columns = config + metrics + ["error"]
        timingColumns = ["cell", "key"] + timings
        var rows: [[JSONValue?]] = [], timingRows: [[JSONValue?]] = []
        for (k, cell) in cells.enumerated() {
            var c: [JSONValue?] = [.integer(cell.index), .string(cell.key), .string(outcomes[k].status)]
            let settings = Dictionary(uniqueKeysWithValues: cell.settings.map { ($0.name, $0.value) })
            for name in sweep.axisNames { c.append(settings[name]) }
            for o in sweep.options { c.append(o.value) }
            for m in metrics { c.append(flat[k][m]) }
            if case .failed(let status, let message) = outcomes[k] {
                c.append(.string("exit status \(status): \(message)"))
            } else {
                c.append(nil)
            }
            rows.append(c)
            if case .done = outcomes[k] {
                timingRows.append([.integer(cell.index), .string(cell.key)] + timings.map { flat[k][$0] })
            }
        }
        self.rows = rows
        self.timingRows = timingRows
    }

    /// A value as a table shows it (lists as their items joined by spaces; absent: empty).
    public static func csvText(_ v: JSONValue?) -> String {
        guard let v else { return "" }
        if case .array(let list) = v { return list.compactMap(\.scalarText).joined(separator: " ") }
        return v.scalarText ?? ""
    }

    static func csv(_ columns: [String], _ rows: [[JSONValue?]]) -> String {
        var t = CSVTable(columns: columns.map { CSVTable.field($0) })
        for r in rows { t.append(r.map { CSVTable.field(csvText($0)) }) }
        return t.text
    }

    /// results.csv: pandas reads it with `pd.read_csv` (empty fields are NaN).
    public var csv: String { Self.csv(columns, rows) }

    /// results.jsonl: one object per cell, the same columns (absent values left out).
    public var jsonLines: String {
        rows.map { r in
            "{" + zip(columns, r).compactMap { c, v in v.map { JSONValue.quoted(c) + ":" + $0.json } }.joined(separator: ",") + "}\n"
        }.joined()
    }

    /// timings.csv: each finished cell's timings (they differ between runs of the same cell).
    public var timingsCSV: String { Self.csv(timingColumns, timingRows) }
}
