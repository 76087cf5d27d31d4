import AgoraKernels
import Foundation

/// Reader for numeric CSV (optionally gzip-compressed): one row per example, comma-separated
/// numbers, an optional header row (detected when the first row is not all numbers), the label in
/// one column (the last by default).
public enum CSVReader {
    public static func read(path: String, labelColumn: Int? = nil) throws -> Dataset {
        try parse(CompressedFile.contents(of: path), name: path, labelColumn: labelColumn)
    }

    public static func parse(_ bytes: [UInt8], name: String, labelColumn: Int? = nil) throws -> Dataset {
        for (k, b) in bytes.prefix(4096).enumerated() where b == 0 || (b < 0x20 && b != 0x0A && b != 0x0D && b != 0x09) {
            throw AgoraError.data(file: name, String(format: "unexpected byte 0x%02X at offset %d: this does not look like CSV text", b, k))
        }
        let text = String(decoding: bytes, as: UTF8.self)
        var rows: [[Float]] = []
        var labels: [String] = []
        var width = -1
        var labelAt = -1
        var lineNo = 0
        var header: [String]? = nil
        for raw in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }) {
            lineNo += 1
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            if width < 0 {
                width = fields.count
                guard width >= 2 else { throw AgoraError.data(file: name, line: lineNo, "expected at least 2 columns (features and a label), found \(width)") }
                labelAt = labelColumn ?? (width - 1)
                guard labelAt >= 0 && labelAt < width else {
                    throw AgoraError.data(file: name, line: lineNo, "label column \(labelAt) is outside 0..<\(width)")
                }
                if fields.contains(where: { Float($0) == nil }) { header = fields; continue }
            }
            guard fields.count == width else {
                throw AgoraError.data(file: name, line: lineNo, "\(fields.count) fields, expected \(width) like the first row")
            }
            var row: [Float] = []
            row.reserveCapacity(width - 1)
            var column = 1
            for (k, f) in fields.enumerated() {
                if k == labelAt { labels.append(f) } else {
                    guard let v = Float(f), v.isFinite else {
                        throw AgoraError.data(file: name, line: lineNo, column: column,
                                        "field \(k + 1)\(header.map { " ('\($0[k])')" } ?? "") = '\(f)' is not a finite number")
                    }
                    row.append(v)
                }
                column += f.count + 1
            }
            rows.append(row)
        }
        guard !rows.isEmpty else { throw AgoraError.data(file: name, "no data rows") }
        let numeric = labels.allSatisfy { Double($0) != nil }
        let classes = numeric ? Array(Set(labels)).sorted { Double($0)! < Double($1)! } : Array(Set(labels)).sorted()
        var classOf: [String: Int] = [:]
        for (c, l) in classes.enumerated() { classOf[l] = c }
        let x = try Matrix(rows: rows.count, cols: width - 1, storage: rows.flatMap { $0 })
        return Dataset(name: name, features: .dense(x), labels: labels.map { classOf[$0]! }, labelNames: classes)
    }
}
