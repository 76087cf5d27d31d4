import AgoraCore
import AgoraReports
import Foundation

/// A JSON value as a sweep file or a command's `--json` summary holds it. Integers stay integers
/// (a cell's `--agents 16` is never written `16.0`), objects keep their keys (sorted when written).
public indirect enum JSONValue: Sendable, Equatable, Decodable {
    case null
    case bool(Bool)
    case integer(Int)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let i = try? c.decode(Int.self) {
            self = .integer(i)
        } else if let x = try? c.decode(Double.self) {
            self = .number(x)
        } else if let s = try? c.decode(String.self) {
            // The strings `JSONOutput` writes for non-finite numbers are numbers again.
            switch s {
            case "NaN": self = .number(.nan)
            case "Infinity": self = .number(.infinity)
            case "-Infinity": self = .number(-.infinity)
            default: self = .string(s)
            }
        } else if let a = try? c.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: JSONValue].self))
        }
    }

    /// Parses one JSON document (what `what` names in the error: a file, a cell's output).
    public static func parse(_ bytes: [UInt8], what: String) throws -> JSONValue {
        do {
            return try JSONOutput.decoder().decode(JSONValue.self, from: Data(bytes))
        } catch {
            // The decoder does not say where; the serializer names the character offset, which
            // becomes a line and column.
            var line: Int? = nil, column: Int? = nil, detail = Self.describe(error)
            do {
                _ = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
            } catch {
                if let d = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String {
                    detail = d
                    if let r = d.range(of: "character "), let offset = Int(d[r.upperBound...].prefix { $0.isNumber }) {
                        let before = bytes.prefix(max(0, min(offset, bytes.count)))
                        line = before.filter { $0 == 10 }.count + 1
                        column = before.count - (before.lastIndex(of: 10).map { $0 + 1 } ?? 0) + 1
                    }
                }
            }
            throw AgoraError.data(file: what, line: line, column: column, "not a JSON document: \(detail)")
        }
    }

    static func describe(_ error: Error) -> String {
        if let e = error as? DecodingError {
            switch e {
            case .dataCorrupted(let c):
                // The parser's own words name the line and column ("... around line 3, column 7").
                let underlying = c.underlyingError.map { ($0 as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\($0)" }
                return underlying ?? c.debugDescription
            default: return "\(e)"
            }
        }
        return "\(error)"
    }

    /// A number as the command line and the tables write it: integers without a decimal point,
    /// others in Swift's shortest round-trip form.
    static func text(_ x: Double) -> String {
        if x.isNaN { return "NaN" }
        if x.isInfinite { return x > 0 ? "Infinity" : "-Infinity" }
        if x == x.rounded(), abs(x) < 1e15 { return String(Int(x)) }
        return "\(x)"
    }

    /// The value as one JSON text (keys sorted; non-finite numbers as `JSONOutput` spells them).
    public var json: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .integer(let i): return String(i)
        case .number(let x): return x.isFinite ? Self.text(x) : "\"\(Self.text(x))\""
        case .string(let s): return Self.quoted(s)
        case .array(let a): return "[" + a.map(\.json).joined(separator: ",") + "]"
        case .object(let o): return "{" + o.keys.sorted().map { Self.quoted($0) + ":" + o[$0]!.json }.joined(separator: ",") + "}"
        }
    }

    /// `s` as a JSON string literal.
    public static func quoted(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }

    /// A scalar as a table cell or a command-line word (nil for arrays, objects and null).
    public var scalarText: String? {
        switch self {
        case .bool(let b): return b ? "true" : "false"
        case .integer(let i): return String(i)
        case .number(let x): return Self.text(x)
        case .string(let s): return s
        case .null, .array, .object: return nil
        }
    }

    /// The value as a Double when it is a number.
    public var number: Double? {
        switch self {
        case .integer(let i): return Double(i)
        case .number(let x): return x
        default: return nil
        }
    }
}

/// A grid of `agora` runs: one command, fixed options and axes, as a sweep file (JSON) states it.
/// Every cell is the command with the fixed options and one value of every axis; axes multiply
/// (the first outermost), a zipped group moves its options together, and `seeds` is the innermost
/// axis (`--seed`). A cell is named by a digest of its full command line, so a sweep that is run
/// again, resumed or split into shards finds the cells already done.
///
/// ```json
/// { "command": "dsgd run",
///   "options": { "agents": 16, "iterations": 200 },
///   "axes": [ { "name": "topology", "values": ["ring", "exponential"] },
///             { "name": "c0", "values": [0.0001, "auto"] },
///             { "zip": [ { "name": "agents", "values": [16, 64] },
///                        { "name": "iterations", "values": [200, 400] } ] },
///             { "name": "lr", "range": { "from": 0.1, "to": 0.5, "step": 0.2 } } ],
///   "seeds": [1, 2, 3] }
/// ```
public struct Sweep: Sendable {
    /// The commands a sweep can run: those whose `--json` prints one summary object.
    public static let commands: [String] = [
        "dsgd run", "dsgd horizon", "dsgd equilibrium", "market run", "market reproduce", "market audit", "contract", "mix",
    ]
    /// Options the sweep sets itself on every cell.
    public static let reserved: Set<String> = ["json", "out", "help", "checkpoint-every", "stop-after", "resume"]

    /// One option of a cell: a name (without the dashes) and its value.
    public struct Setting: Sendable, Equatable {
        public var name: String
        public var value: JSONValue
    }

    /// One axis: its options' values, a list per option (one option, or several zipped).
    public struct Axis: Sendable {
        public var names: [String]
        public var values: [[JSONValue]]  // values[k][j]: option j at step k
        public var count: Int { values.count }
    }

    /// One cell of the grid.
    public struct Cell: Sendable {
        /// Position in the grid (the first axis outermost, seeds innermost).
        public var index: Int
        /// The axes' settings of this cell, in axis order.
        public var settings: [Setting]
        /// The command line after `agora`: the command's words, its arguments, every option
        /// (sorted by name).
        public var arguments: [String]
        /// A digest of `arguments`: the cell's name in a sweep folder.
        public var key: String
    }

    /// The command's words ("market run").
    public var command: String
    /// Positional arguments after the command (e.g. the study of `market reproduce`).
    public var arguments: [String]
    /// Options every cell has (axes override none of them: an option is either fixed or an axis).
    public var options: [Setting]
    public var axes: [Axis]

    /// The names of every axis option, in axis order (the tables' configuration columns).
    public var axisNames: [String] { axes.flatMap(\.names) }

    /// How many cells the grid has.
    public var count: Int { axes.reduce(1) { $0 * $1.count } }

    /// Reads and checks a sweep file. Errors name the file and the field (`axes[2].values`).
    public static func load(path: String) throws -> Sweep {
        let bytes = try SystemFile.read(path: path, maxBytes: 16 << 20, what: "sweep file")
        return try parse(JSONValue.parse(bytes, what: path), file: path)
    }

    /// Checks a parsed sweep file (`file` names it in errors).
    public static func parse(_ root: JSONValue, file: String) throws -> Sweep {
        func fail(_ field: String, _ message: String) -> AgoraError {
            AgoraError(.configuration, "\(field): \(message)", file: file, field: field)
        }
        guard case .object(let top) = root else {
            throw fail("(top)", "expected a JSON object with \"command\", \"options\", \"axes\" and \"seeds\"")
        }
        for key in top.keys.sorted() where !["command", "arguments", "options", "axes", "seeds"].contains(key) {
            throw fail(key, "unknown field; expected command, arguments, options, axes or seeds")
        }
        guard case .string(let rawCommand)? = top["command"] else {
            throw fail("command", "expected one of \(commands.map { "\"\($0)\"" }.joined(separator: ", "))")
        }
        let command = rawCommand.split(separator: " ").joined(separator: " ")
        let canonical = command == "dsgd" ? "dsgd run" : command
        guard commands.contains(canonical) else {
            throw fail("command", "'\(rawCommand)' is not a command a sweep runs; expected one of \(commands.joined(separator: ", "))")
        }
        var arguments: [String] = []
        if let a = top["arguments"] {
            guard case .array(let list) = a else { throw fail("arguments", "expected a list of strings") }
            for (k, v) in list.enumerated() {
                guard case .string(let s) = v, !s.hasPrefix("-") else {
                    throw fail("arguments[\(k)]", "expected a positional word (a string not starting with '-'); options go in \"options\"")
                }
                arguments.append(s)
            }
        }
        func checkName(_ name: String, _ field: String) throws {
            let ok =
                !name.isEmpty && name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
                && name.first != "-"
            guard ok else {
                throw fail(field, "'\(name)' is not an option name (lower-case words joined by '-', without the leading dashes)")
            }
            guard !reserved.contains(name) else {
                throw fail(field, "--\(name) is set by the sweep itself and cannot be an option of its cells")
            }
        }
        func checkValue(_ v: JSONValue, _ field: String) throws {
            switch v {
            case .bool, .integer, .number, .string: return
            case .array(let a):
                for (k, x) in a.enumerated() where x.scalarText == nil || x.isBool {
                    throw fail("\(field)[\(k)]", "a repeated option takes numbers or strings, got \(x.json)")
                }
            case .null, .object:
                throw fail(field, "expected a number, a string, true/false (a flag) or a list (a repeated option), got \(v.json)")
            }
        }
        var options: [Setting] = []
        if let o = top["options"] {
            guard case .object(let dict) = o else { throw fail("options", "expected an object of option names and values") }
            for name in dict.keys.sorted() {
                try checkName(name, "options.\(name)")
                try checkValue(dict[name]!, "options.\(name)")
                options.append(Setting(name: name, value: dict[name]!))
            }
        }
        func values(_ spec: [String: JSONValue], _ field: String) throws -> [JSONValue] {
            if let v = spec["values"] {
                guard case .array(let list) = v, !list.isEmpty else { throw fail("\(field).values", "expected a non-empty list") }
                for (k, x) in list.enumerated() { try checkValue(x, "\(field).values[\(k)]") }
                return list
            }
            guard case .object(let r)? = spec["range"] else { throw fail(field, "expected \"values\" (a list) or \"range\"") }
            guard let from = r["from"]?.number, let to = r["to"]?.number, from.isFinite, to.isFinite else {
                throw fail("\(field).range", "expected numbers \"from\" and \"to\", and \"step\" or \"times\"")
            }
            guard abs(from) <= 1e15, abs(to) <= 1e15 else { throw fail("\(field).range", "from and to must lie within +-1e15") }
            let integers = [r["from"], r["to"], r["step"], r["times"]].allSatisfy {
                if case .integer? = $0 { return true }
                return $0 == nil
            }
            var out: [JSONValue] = []
            if let step = r["step"]?.number {
                guard r["times"] == nil else { throw fail("\(field).range", "give \"step\" or \"times\", not both") }
                guard step.isFinite, step != 0, abs(step) <= 1e15, (to - from) / step >= 0 else {
                    throw fail(
                        "\(field).range.step", "expected a step that goes from \(JSONValue.text(from)) towards \(JSONValue.text(to))")
                }
                let steps = ((to - from) / step * (1 + 1e-12)).rounded(.down)
                guard steps < 100_000 else { throw fail("\(field).range", "more than 100000 values") }
                let n = Int(steps) + 1
                for k in 0..<n { out.append(integers ? .integer(Int(from) + k * Int(step)) : .number(from + Double(k) * step)) }
            } else if let times = r["times"]?.number {
                guard times.isFinite, times > 1, from > 0, to >= from else {
                    throw fail("\(field).range.times", "a geometric range needs 0 < from <= to and times > 1")
                }
                var x = from
                while x <= to * (1 + 1e-12) {
                    out.append(integers ? .integer(Int(x.rounded())) : .number(x))
                    x *= times
                    guard out.count <= 100_000 else { throw fail("\(field).range", "more than 100000 values") }
                }
            } else {
                throw fail("\(field).range", "expected \"step\" (arithmetic) or \"times\" (geometric)")
            }
            return out
        }
        var axes: [Axis] = []
        if let a = top["axes"] {
            guard case .array(let list) = a else { throw fail("axes", "expected a list of axes") }
            for (k, spec) in list.enumerated() {
                let field = "axes[\(k)]"
                guard case .object(let dict) = spec else {
                    throw fail(field, "expected an object with \"name\" and \"values\" or \"range\", or \"zip\"")
                }
                if let z = dict["zip"] {
                    guard case .array(let parts) = z, !parts.isEmpty else {
                        throw fail("\(field).zip", "expected a non-empty list of axes")
                    }
                    var names: [String] = [], columns: [[JSONValue]] = []
                    for (j, p) in parts.enumerated() {
                        guard case .object(let pd) = p, case .string(let name)? = pd["name"] else {
                            throw fail("\(field).zip[\(j)]", "expected an object with \"name\" and \"values\" or \"range\"")
                        }
                        try checkName(name, "\(field).zip[\(j)].name")
                        names.append(name)
                        columns.append(try values(pd, "\(field).zip[\(j)]"))
                    }
                    guard Set(columns.map(\.count)).count == 1 else {
                        throw fail("\(field).zip", "zipped axes must have equal lengths, got \(columns.map(\.count))")
                    }
                    axes.append(Axis(names: names, values: (0..<columns[0].count).map { s in columns.map { $0[s] } }))
                } else {
                    guard case .string(let name)? = dict["name"] else { throw fail("\(field).name", "expected the option's name") }
                    try checkName(name, "\(field).name")
                    axes.append(Axis(names: [name], values: try values(dict, field).map { [$0] }))
                }
            }
        }
        if let s = top["seeds"] {
            let list: [JSONValue]
            switch s {
            case .array(let l): list = l
            case .object(let r): list = try values(["range": .object(r.merging(["step": .integer(1)]) { a, _ in a })], "seeds")
            case .integer(let n) where n >= 1 && n <= 100_000: list = (1...n).map { .integer($0) }
            default: throw fail("seeds", "expected a list of seeds, a count N in 1...100000 (seeds 1...N) or {\"from\": A, \"to\": B}")
            }
            for (k, v) in list.enumerated() {
                guard case .integer(let x) = v, x >= 0 else {
                    throw fail("seeds[\(k)]", "expected a non-negative integer seed, got \(v.json)")
                }
            }
            guard !list.isEmpty else { throw fail("seeds", "expected at least one seed") }
            axes.append(Axis(names: ["seed"], values: list.map { [$0] }))
        }
        var seen = Set(options.map(\.name))
        for (k, axis) in axes.enumerated() {
            for name in axis.names {
                guard seen.insert(name).inserted else {
                    throw fail(k < axes.count ? "axes[\(k)]" : "seeds", "--\(name) is set twice (an option is either fixed or one axis)")
                }
            }
        }
        // The product in Double: many long axes would overflow an Int.
        let cells = axes.reduce(1.0) { $0 * Double($1.count) }
        guard cells <= 1_000_000 else { throw fail("axes", "the grid has \(JSONValue.text(cells)) cells; at most 1000000") }
        return Sweep(command: canonical, arguments: arguments, options: options, axes: axes)
    }

    /// Every cell, in grid order.
    public func cells() -> [Cell] {
        (0..<count).map(cell)
    }

    /// Cell `index` of the grid.
    public func cell(_ index: Int) -> Cell {
        var settings: [Setting] = [], rest = index
        var steps = [Int](repeating: 0, count: axes.count)
        for k in stride(from: axes.count - 1, through: 0, by: -1) {
            steps[k] = rest % axes[k].count
            rest /= axes[k].count
        }
        for (k, axis) in axes.enumerated() {
            for (j, name) in axis.names.enumerated() { settings.append(Setting(name: name, value: axis.values[steps[k]][j])) }
        }
        var words = command.split(separator: " ").map(String.init) + arguments
        for s in (options + settings).sorted(by: { $0.name < $1.name }) {
            switch s.value {
            case .bool(let on): if on { words.append("--\(s.name)") }
            case .array(let list): for v in list { words += ["--\(s.name)", v.scalarText!] }
            default: words += ["--\(s.name)", s.value.scalarText!]
            }
        }
        return Cell(index: index, settings: settings, arguments: words, key: Self.digest(words))
    }

    /// FNV-1a (64-bit, 16 hex digits) of the words, each closed by a zero byte.
    public static func digest(_ words: [String]) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for w in words {
            for b in w.utf8 + [0] { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        }
        let hex = String(h, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// The cells of shard `shard` of `shards` (cells whose index is `shard` modulo `shards`):
    /// shards of one sweep share its cells out, each exactly once.
    public func cells(shard: Int, of shards: Int) -> [Cell] {
        stride(from: shard, to: count, by: shards).map(cell)
    }
}

extension JSONValue {
    var isBool: Bool {
        if case .bool = self { return true }
        return false
    }
}
