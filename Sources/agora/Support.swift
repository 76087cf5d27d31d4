import AgoraExperiments
import AgoraKernels
import AgoraLearning
import AgoraMechanisms
import AgoraReports
import AgoraTopology
import Foundation

func fmt(_ x: Double) -> String {
    if x == 0 { return "0" }
    let a = abs(x)
    return (a >= 1e-3 && a < 1e6) ? String(format: "%.6g", x) : String(format: "%.4e", x)
}

func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s + " " : s + String(repeating: " ", count: w - s.count) }

/// A one-line progress indicator on stderr, shown only when stderr is a terminal.
final class Progress {
    let total: Int, label: String
    let enabled = isatty(2) != 0
    var last = -1
    init(total: Int, label: String) {
        self.total = total
        self.label = label
    }
    func update(_ done: Int) {
        guard enabled, total > 0 else { return }
        let pct = done * 100 / total
        if pct == last { return }
        last = pct
        FileHandle.standardError.write("\r\(label): \(done)/\(total) (\(pct)%)".data(using: .utf8)!)
    }
    func finish() { if enabled && total > 0 { FileHandle.standardError.write("\r\u{1B}[K".data(using: .utf8)!) } }
}

/// A run-time failure reported to the user as "Error: message" with a non-zero exit, without the
/// usage text (which `ValidationError` prints and which only fits mistakes in the arguments).
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

/// Keys of a JSON document that the decoded value does not use (typos such as "stepsize"),
/// found by comparing the input with the value's own re-encoding. Keys given as null are allowed
/// (they mean "absent"). Returns dotted paths, e.g. ["mechanism.stepsize"].
func unknownJSONKeys<T: Encodable>(in data: Data, decoded value: T) -> [String] {
    // Above 1 MiB (long per-agent lists) the object trees of both documents would take ~100x the
    // file's size: compare the sets of key paths instead, with array positions collapsed.
    if data.count > 1 << 20 {
        guard let echo = try? JSONEncoder().encode(value) else { return [] }
        let known = jsonKeyPaths(in: [UInt8](echo)).all
        return jsonKeyPaths(in: [UInt8](data)).nonNull.filter { !known.contains($0) }.sorted()
    }
    guard let input = try? JSONSerialization.jsonObject(with: data),
        let echo = try? JSONSerialization.jsonObject(with: JSONEncoder().encode(value))
    else { return [] }
    func walk(_ a: Any, _ b: Any?, _ path: String) -> [String] {
        if let da = a as? [String: Any] {
            let db = b as? [String: Any] ?? [:]
            return da.keys.sorted().flatMap { k -> [String] in
                let p = path.isEmpty ? k : path + "." + k
                if da[k] is NSNull { return [] }
                guard let sub = db[k] else { return [p] }
                return walk(da[k]!, sub, p)
            }
        }
        if let xa = a as? [Any], let xb = b as? [Any] {
            return zip(xa, xb).enumerated().flatMap { walk($0.element.0, $0.element.1, "\(path)[\($0.offset)]") }
        }
        return []
    }
    return walk(input, echo, "")
}

/// The key paths of a JSON document with array positions collapsed ("strategic[].kind"): every
/// path, and those whose value is not null. A byte scan (strings with escapes skipped as units), so
/// its memory is the number of distinct paths, whatever the document's size.
func jsonKeyPaths(in bytes: [UInt8]) -> (all: Set<String>, nonNull: Set<String>) {
    var all = Set<String>(), nonNull = Set<String>()
    // One entry per open container: its path, and whether it is an object expecting a key.
    var stack: [(path: String, object: Bool, expectingKey: Bool)] = []
    var i = 0
    let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
    while i < bytes.count {
        let c = bytes[i]
        switch c {
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            let parent = stack.last?.path ?? ""
            let path = c == UInt8(ascii: "[") ? parent + "[]" : parent
            stack.append((path, c == UInt8(ascii: "{"), c == UInt8(ascii: "{")))
        case UInt8(ascii: "}"), UInt8(ascii: "]"):
            if !stack.isEmpty { stack.removeLast() }
        // A finished value inside an object: its key's path is popped below, at the next key.
        case UInt8(ascii: ","):
            if let top = stack.last, top.object { stack[stack.count - 1].expectingKey = true }
        case quote:
            var j = i + 1
            while j < bytes.count && bytes[j] != quote { j += bytes[j] == backslash ? 2 : 1 }
            if let top = stack.last, top.object, top.expectingKey {
                let key = String(decoding: bytes[(i + 1)..<min(j, bytes.count)], as: UTF8.self)
                // The container path of this object is the path of its parent entry plus its key.
                let base = top.path
                let path = base.isEmpty ? key : base + "." + key
                all.insert(path)
                var k = j + 1
                while k < bytes.count,
                    [UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\t"), UInt8(ascii: "\r"), UInt8(ascii: ":")].contains(bytes[k])
                {
                    k += 1
                }
                let isNull = k + 4 <= bytes.count && Array(bytes[k..<(k + 4)]) == Array("null".utf8)
                if !isNull { nonNull.insert(path) }
                stack[stack.count - 1].expectingKey = false
                // A nested container opened right after this key takes the key's path.
                if k < bytes.count, bytes[k] == UInt8(ascii: "{") || bytes[k] == UInt8(ascii: "[") {
                    stack.append(
                        (bytes[k] == UInt8(ascii: "[") ? path + "[]" : path, bytes[k] == UInt8(ascii: "{"), bytes[k] == UInt8(ascii: "{")))
                    i = k + 1
                    continue
                }
            }
            i = j
        default: break
        }
        i += 1
    }
    return (all, nonNull)
}

/// The first key that appears twice in one JSON object, with its line (nil when none does). JSON
/// decoders keep one of the two silently, so a file with both `"rounds": 5` and `"rounds": 50` would
/// run with one of them unnoticed. A byte scan: strings (with escapes) are skipped as units.
func duplicateJSONKey(in data: Data) -> (key: String, line: Int)? {
    struct Level {
        var keys: Set<[UInt8]>?  // nil in an array
        var expectingKey: Bool
    }
    var stack: [Level] = []
    var line = 1
    let bytes = [UInt8](data)
    var i = 0
    while i < bytes.count {
        let c = bytes[i]
        switch c {
        case UInt8(ascii: "\n"): line += 1
        case UInt8(ascii: "{"): stack.append(Level(keys: [], expectingKey: true))
        case UInt8(ascii: "["): stack.append(Level(keys: nil, expectingKey: false))
        case UInt8(ascii: "}"), UInt8(ascii: "]"): if !stack.isEmpty { stack.removeLast() }
        case UInt8(ascii: ","): if let top = stack.last, top.keys != nil { stack[stack.count - 1].expectingKey = true }
        case UInt8(ascii: "\""):
            var j = i + 1
            while j < bytes.count && bytes[j] != UInt8(ascii: "\"") { j += bytes[j] == UInt8(ascii: "\\") ? 2 : 1 }
            let raw = Array(bytes[(i + 1)..<min(j, bytes.count)])
            if let top = stack.last, top.expectingKey, var keys = top.keys {
                if keys.contains(raw) { return (String(decoding: raw, as: UTF8.self), line) }
                keys.insert(raw)
                stack[stack.count - 1] = Level(keys: keys, expectingKey: false)
            }
            i = j
        default: break
        }
        i += 1
    }
    return nil
}

/// Reads a JSON experiment file: decodes it as `T`, and rejects fields that `T` does not know
/// (typos would otherwise be silently ignored), naming the file and the dotted paths.
func loadJSONConfig<T: Codable>(_ path: String, as _: T.Type, what: String) throws -> T {
    // A configuration is a few kilobytes; 64 MiB leaves room for per-client lists of any market size.
    let data = Data(try SystemFile.read(path: path, maxBytes: 64 << 20, what: "the configuration file"))
    if let dup = duplicateJSONKey(in: data) {
        throw CLIError("\(path):\(dup.line): the field '\(dup.key)' appears twice in one object; keep one")
    }
    let e: T
    do { e = try JSONDecoder().decode(T.self, from: data) } catch {
        throw CLIError("\(path): not a valid \(what) (\(error))")
    }
    let unknown = unknownJSONKeys(in: data, decoded: e)
    guard unknown.isEmpty else {
        throw CLIError(
            "\(path): unknown field\(unknown.count > 1 ? "s" : "") \(unknown.joined(separator: ", ")); a result's config.json lists every field"
        )
    }
    return e
}

/// Turns library errors into a clean message and a non-zero exit (no stack trace, no crash, no
/// usage text, which only fits mistakes in the arguments).
func reportingErrors<R>(_ body: () throws -> R) throws -> R {
    do { return try body() } catch let e as AgoraError { throw CLIError(e.description) }
}

/// Makes sure results can be written into `folder` before any computation starts (creates it and
/// writes, then removes, a probe file): a run never finishes only to lose its results.
func prepareOutputFolder(_ folder: String) throws {
    // Under MPI only the reporting rank checks (and writes); its refusal must end every rank,
    // which would otherwise wait for it in the first collective.
    try endingAllRanksOnError {
        do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
            throw CLIError("cannot create the output folder \(folder): \(error.localizedDescription)")
        }
        let probe = folder + "/.agora-write-test-\(ProcessInfo.processInfo.processIdentifier)"
        guard FileManager.default.createFile(atPath: probe, contents: Data()) else {
            throw CLIError("cannot write into the output folder \(folder) (read-only, or not a folder)")
        }
        try? FileManager.default.removeItem(atPath: probe)
    }
}

/// The same check for one output file: its folder exists and accepts a new file.
func prepareOutputFile(_ path: String) throws {
    // As `prepareOutputFolder`: a refusal on the reporting rank ends every rank.
    try endingAllRanksOnError {
        let folder = (path as NSString).deletingLastPathComponent
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.isEmpty ? "." : folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CLIError("cannot write \(path): the folder \(folder) does not exist")
        }
        guard FileManager.default.isWritableFile(atPath: folder.isEmpty ? "." : folder) else {
            throw CLIError("cannot write \(path): the folder \(folder.isEmpty ? "." : folder) is not writable")
        }
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
            if isDir.boolValue { throw CLIError("cannot write \(path): it is a folder") }
            // Outputs are written atomically (a new file renamed over the old): over a device or a
            // pipe that would replace the node itself (as root, /dev/null), so only regular files.
            let type = (try? FileManager.default.attributesOfItem(atPath: path)[.type]) as? FileAttributeType
            guard type == .typeRegular || type == .typeSymbolicLink else {
                throw CLIError("cannot write \(path): it is a device or a pipe, not a file; write to a file and copy it")
            }
        }
    }
}
