import AgoraCore
import Foundation

/// JSON outputs as every Agora tool writes them: keys sorted (so files diff cleanly and a result is
/// byte-identical across runs), one line for stdout and JSON-lines files, indented for files.
public enum JSONOutput {
    /// An encoder that never fails on a non-finite number: NaN, +inf and -inf are written as the
    /// strings "NaN", "Infinity" and "-Infinity" (what pandas' `read_json` and Python's `json`
    /// module spell them), so a diverged run still writes its results.
    public static func encoder(_ formatting: JSONEncoder.OutputFormatting) -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = formatting
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return e
    }

    /// The matching decoder (reads what `encoder` writes).
    public static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return d
    }

    /// `value` as one line of JSON with sorted keys (for `--json` on stdout and `.jsonl` files).
    public static func line<T: Encodable>(_ value: T) throws -> String {
        let encoder = encoder([.sortedKeys])
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// Writes `value` as indented JSON with sorted keys to `path`.
    public static func write<T: Encodable>(_ value: T, to path: String) throws {
        let encoder = encoder([.prettyPrinted, .sortedKeys])
        // Atomically: a full disk or a kill leaves the previous file or none, never a truncated,
        // invalid JSON document, and no temporary file (SystemFile.writeAtomically).
        try SystemFile.writeAtomically(Array(encoder.encode(value)), to: path)
    }

    /// The three JSON files every experiment folder has: config.json (a complete experiment, which
    /// the tools accept back as a configuration), result.json and summary.json. Creates the folder.
    public static func writeExperiment<C: Encodable, R: Encodable, S: Encodable>(
        config: C, result: R, summary: S,
        to folder: String
    ) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try write(config, to: folder + "/config.json")
        try write(result, to: folder + "/result.json")
        try write(summary, to: folder + "/summary.json")
    }
}

/// A CSV table built row by row and written at once (atomically), in the dialect pandas and
/// spreadsheets read by default: comma-separated, a header row, `\n` line ends, fields quoted only
/// when `CSVTable.field` is asked to (text that may hold commas, quotes or line breaks).
public struct CSVTable: Sendable {
    public let columns: [String]
    public private(set) var text: String

    public init(columns: [String]) {
        self.columns = columns
        text = columns.joined(separator: ",") + "\n"
    }

    /// Appends one row; `fields` must have one entry per column (already formatted; see `field`).
    public mutating func append(_ fields: [String]) {
        precondition(fields.count == columns.count, "CSV row of \(fields.count) fields for \(columns.count) columns")
        text += fields.joined(separator: ",") + "\n"
    }

    /// A text field quoted as RFC 4180 asks when it holds a comma, a quote or a line break (or
    /// always, with `quoted`): inner quotes doubled.
    public static func field(_ s: String, quoted: Bool = false) -> String {
        guard quoted || s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// The fields of one line as `field` writes them (the inverse: quoted fields unquoted, doubled
    /// quotes single, carriage returns dropped): what `agora report` reads back from the CSV
    /// files Agora wrote.
    public static func fields(ofLine line: String) -> [String] {
        var out: [String] = [], field = "", quoted = false
        var chars = line.makeIterator(), pending: Character? = nil
        while let c = pending ?? chars.next() {
            pending = nil
            if quoted {
                if c == "\"" {
                    let after = chars.next()
                    if after == "\"" {
                        field.append("\"")
                    } else {
                        quoted = false
                        pending = after
                    }
                } else {
                    field.append(c)
                }
            } else if c == "\"" {
                quoted = true
            } else if c == "," {
                out.append(field)
                field = ""
            } else if c != "\r" {
                field.append(c)
            }
        }
        out.append(field)
        return out
    }

    /// An optional number: its shortest exact decimal form, or an empty field (missing value).
    public static func field<T: CustomStringConvertible>(_ v: T?) -> String { v.map { "\($0)" } ?? "" }

    /// Writes the table to `path` atomically (a reader never sees half a file).
    public func write(to path: String) throws {
        try SystemFile.writeAtomically(text, to: path)
    }
}
