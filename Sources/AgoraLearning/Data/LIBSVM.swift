import AgoraKernels
import Foundation

/// Reader for LIBSVM / svmlight text: `label index:value index:value ...` per line, 1-based
/// strictly increasing indices, `#` comments, blank lines, LF or CRLF endings, with or without a
/// final newline. Sparse data stays sparse (CSR).
///
/// Labels: the distinct label values found are mapped to classes 0..<K in numeric order, so -1/+1,
/// 0/1 and 1/2 all become classes 0 and 1; the mapping is reported in `Dataset.labelNames`.
/// Every malformed line gives a `AgoraError` with file, line, column and what was expected.
public enum LIBSVMReader {
    /// Reads `path`. `features` fixes the feature count (a test split can use fewer indices than
    /// its training split); 0 means "largest index in the file".
    public static func read(path: String, features: Int = 0) throws -> Dataset {
        // Gzip-compressed files are inflated (by their magic bytes), as for CSV and IDX.
        let data = try CompressedFile.decode(SystemFile.read(path: path, maxBytes: .max, what: "the LIBSVM file"), name: path)
        return try parse(data, name: path, features: features)
    }

    /// The largest feature index (and count) a file may use: CSR columns are 32-bit.
    public static let maxFeatures = Int(Int32.max)

    public static func parse(_ bytes: [UInt8], name: String, features: Int = 0) throws -> Dataset {
        guard features >= 0, features <= maxFeatures else {
            throw AgoraError.data(file: name, "feature count \(features) is outside 0...\(maxFeatures)")
        }
        var labelsRaw: [Double] = []
        var labelText: [Double: String] = [:]
        var rowStart = [0]
        var cols: [Int32] = []
        var vals: [Float] = []
        var maxIndex = 0
        var line = 1
        var i = 0
        let n = bytes.count
        @inline(__always) func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 }
        func col(_ pos: Int, _ lineStart: Int) -> Int { pos - lineStart + 1 }
        while i < n {
            let lineStart = i
            // Find the end of the line (LF; a CR before it is dropped).
            var end = i
            while end < n && bytes[end] != 0x0A { end += 1 }
            var stop = end
            if stop > lineStart && bytes[stop - 1] == 0x0D { stop -= 1 }
            // Cut a comment.
            var k = lineStart
            while k < stop && bytes[k] != 0x23 { k += 1 }
            stop = k
            var p = lineStart
            while p < stop && isSpace(bytes[p]) { p += 1 }
            if p < stop {
                // Label.
                let ls = p
                while p < stop && !isSpace(bytes[p]) { p += 1 }
                try checkText(bytes, ls, p, name, line, col(ls, lineStart))
                let lt = String(decoding: bytes[ls..<p], as: UTF8.self)
                guard let lv = Double(lt), lv.isFinite else {
                    throw AgoraError.data(file: name, line: line, column: col(ls, lineStart), "label '\(lt)' is not a number")
                }
                labelsRaw.append(lv)
                if labelText[lv] == nil { labelText[lv] = lt }
                var last = 0
                while true {
                    while p < stop && isSpace(bytes[p]) { p += 1 }
                    if p >= stop { break }
                    let ts = p
                    while p < stop && !isSpace(bytes[p]) { p += 1 }
                    try checkText(bytes, ts, p, name, line, col(ts, lineStart))
                    guard let colon = bytes[ts..<p].firstIndex(of: 0x3A) else {
                        throw AgoraError.data(
                            file: name, line: line, column: col(ts, lineStart),
                            "expected 'index:value', found '\(String(decoding: bytes[ts..<p], as: UTF8.self))'")
                    }
                    let it = String(decoding: bytes[ts..<colon], as: UTF8.self)
                    let vt = String(decoding: bytes[(colon + 1)..<p], as: UTF8.self)
                    guard let idx = Int(it), idx >= 1 else {
                        throw AgoraError.data(
                            file: name, line: line, column: col(ts, lineStart),
                            "feature index '\(it)' is not a positive integer (indices are 1-based)")
                    }
                    guard idx <= maxFeatures else {
                        throw AgoraError.data(
                            file: name, line: line, column: col(ts, lineStart),
                            "feature index \(idx) is above the largest supported index \(maxFeatures)")
                    }
                    guard idx > last else {
                        throw AgoraError.data(
                            file: name, line: line, column: col(ts, lineStart),
                            "feature index \(idx) after \(last): indices must increase strictly within a line")
                    }
                    if features > 0 && idx > features {
                        throw AgoraError.data(
                            file: name, line: line, column: col(ts, lineStart),
                            "feature index \(idx) is beyond the feature count \(features)")
                    }
                    guard !vt.isEmpty else {
                        throw AgoraError.data(
                            file: name, line: line, column: col(colon + 1, lineStart),
                            "missing value after '\(it):' (truncated line?)")
                    }
                    guard let v = Float(vt), v.isFinite else {
                        throw AgoraError.data(
                            file: name, line: line, column: col(colon + 1, lineStart),
                            "value '\(vt)' of feature \(idx) is not a finite number")
                    }
                    last = idx
                    maxIndex = max(maxIndex, idx)
                    if v != 0 {
                        cols.append(Int32(idx - 1))
                        vals.append(v)
                    }
                }
                rowStart.append(cols.count)
            }
            i = end + 1
            line += 1
        }
        guard !labelsRaw.isEmpty else {
            throw AgoraError.data(file: name, "no data rows (empty file, or only comments and blank lines)")
        }
        let classesSorted = labelText.keys.sorted()
        var classOf: [Double: Int] = [:]
        for (c, v) in classesSorted.enumerated() { classOf[v] = c }
        let d = features > 0 ? features : maxIndex
        let csr = try CSRMatrix(rows: labelsRaw.count, cols: d, rowStart: rowStart, columns: cols, values: vals)
        return Dataset(
            name: name, features: .sparse(csr), labels: labelsRaw.map { classOf[$0]! },
            labelNames: classesSorted.map { labelText[$0]! })
    }

    /// Rejects control bytes and invalid UTF-8 (binary files) with the position.
    static func checkText(_ b: [UInt8], _ s: Int, _ e: Int, _ name: String, _ line: Int, _ column: Int) throws {
        for k in s..<e where b[k] < 0x20 || b[k] == 0x7F || b[k] >= 0x80 {
            throw AgoraError.data(
                file: name, line: line, column: column + (k - s),
                String(format: "unexpected byte 0x%02X: this does not look like LIBSVM text", b[k]))
        }
    }
}
