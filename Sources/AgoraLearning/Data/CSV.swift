import AgoraKernels
import Foundation

/// Whether the first row of a CSV file is a header.
public enum CSVHeader: String, Codable, Sendable, CaseIterable {
    /// Decide from the first row: a header when none of its feature fields is a number, data when
    /// all are; a row that mixes both (an empty cell, a typo) is refused as ambiguous.
    case auto
    case yes
    case no
}

/// Reader for numeric CSV (optionally gzip-compressed): one row per example, comma-separated
/// numbers, an optional header row (`CSVHeader`), the label in one column (the last by default).
/// A UTF-8 byte-order mark is skipped. Labels that are all numbers are classes by numeric value
/// (so `1` and `1.0` are one class, in numeric order); otherwise they are text, in text order.
public enum CSVReader {
    public static func read(path: String, labelColumn: Int? = nil, header: CSVHeader = .auto) throws -> Dataset {
        try parse(CompressedFile.contents(of: path), name: path, labelColumn: labelColumn, header: header)
    }

    public static func parse(
        _ input: [UInt8], name: String, labelColumn: Int? = nil, header headerMode: CSVHeader = .auto
    ) throws -> Dataset {
        let bytes = input.starts(with: [0xEF, 0xBB, 0xBF]) ? Array(input.dropFirst(3)) : input
        for (k, b) in bytes.prefix(4096).enumerated() where b == 0 || (b < 0x20 && b != 0x0A && b != 0x0D && b != 0x09) {
            throw AgoraError.data(file: name, String(format: "unexpected byte 0x%02X at offset %d: this does not look like CSV text", b, k))
        }
        let text = String(decoding: bytes, as: UTF8.self)
        var rows: [[Float]] = []
        var labels: [String] = []
        var labelLines: [Int] = []
        var width = -1
        var labelAt = -1
        var lineNo = 0
        var header: [String]? = nil
        var firstRowFields: [String]? = nil
        for raw in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }) {
            lineNo += 1
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            if width < 0 {
                width = fields.count
                guard width >= 2 else {
                    throw AgoraError.data(file: name, line: lineNo, "expected at least 2 columns (features and a label), found \(width)")
                }
                labelAt = labelColumn ?? (width - 1)
                guard labelAt >= 0 && labelAt < width else {
                    throw AgoraError.data(file: name, line: lineNo, "label column \(labelAt) is outside 0..<\(width)")
                }
                if try isHeader(fields, labelAt: labelAt, mode: headerMode, name: name, line: lineNo) {
                    header = fields
                    continue
                }
                firstRowFields = fields
            }
            guard fields.count == width else {
                throw AgoraError.data(file: name, line: lineNo, "\(fields.count) fields, expected \(width) like the first row")
            }
            var row: [Float] = []
            row.reserveCapacity(width - 1)
            var column = 1
            for (k, f) in fields.enumerated() {
                if k == labelAt {
                    labels.append(f)
                    labelLines.append(lineNo)
                } else {
                    guard let v = Float(f), v.isFinite else {
                        throw AgoraError.data(
                            file: name, line: lineNo, column: column,
                            "field \(k + 1)\(header.map { " ('\($0[k])')" } ?? "") = '\(f)' is not a finite number")
                    }
                    row.append(v)
                }
                column += f.count + 1
            }
            rows.append(row)
        }
        // Auto mode and numeric column names (`0,1,2,label`): the feature fields look like data, but a
        // text label above labels that are all numbers is a header, not a class of its own.
        if headerMode == .auto, header == nil, let first = firstRowFields, labels.count >= 2, Double(labels[0]) == nil,
            labels.dropFirst().allSatisfy({ Double($0) != nil })
        {
            header = first
            rows.removeFirst()
            labels.removeFirst()
            labelLines.removeFirst()
        }
        guard !rows.isEmpty else { throw AgoraError.data(file: name, "no data rows") }
        let (classOf, classes) = try labelClasses(labels, lines: labelLines, name: name)
        let x = try Matrix(rows: rows.count, cols: width - 1, storage: rows.flatMap { $0 })
        var d = Dataset(name: name, features: .dense(x), labels: classOf, labelNames: classes)
        d.columnNames = header
        return d
    }

    /// Whether the first row is a header under `mode` (auto: decided from its feature fields).
    static func isHeader(_ fields: [String], labelAt: Int, mode: CSVHeader, name: String, line: Int) throws -> Bool {
        switch mode {
        case .yes: return true
        case .no: return false
        case .auto:
            let features = fields.indices.filter { $0 != labelAt }
            let numeric = features.filter { Float(fields[$0]) != nil }
            if numeric.isEmpty { return true }
            if numeric.count == features.count { return false }
            let text = features.first { Float(fields[$0]) == nil }!
            throw AgoraError.data(
                file: name, line: line, column: nil,
                "the first row mixes numbers and text (field \(text + 1) = '\(fields[text])'): it is neither clearly a header nor clearly data; say which (header yes or no)"
            )
        }
    }

    /// Class index per row and class names: numeric labels by value (1 and 1.0 are one class), in
    /// numeric order, named by their first spelling; text labels in text order.
    static func labelClasses(_ labels: [String], lines: [Int], name: String) throws -> ([Int], [String]) {
        let values = labels.map { Double($0) }
        if values.allSatisfy({ $0 != nil }) {
            if let bad = values.firstIndex(where: { !$0!.isFinite }) {
                throw AgoraError.data(file: name, line: lines[bad], "label '\(labels[bad])' is not a finite number")
            }
            var spelling: [Double: String] = [:]
            for (v, t) in zip(values, labels) where spelling[v!] == nil { spelling[v!] = t }
            let sorted = spelling.keys.sorted()
            var classOf: [Double: Int] = [:]
            for (c, v) in sorted.enumerated() { classOf[v] = c }
            return (values.map { classOf[$0!]! }, sorted.map { spelling[$0]! })
        }
        let classes = Array(Set(labels)).sorted()
        var classOf: [String: Int] = [:]
        for (c, l) in classes.enumerated() { classOf[l] = c }
        return (labels.map { classOf[$0]! }, classes)
    }
}
