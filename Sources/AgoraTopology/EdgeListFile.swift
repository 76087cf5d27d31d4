import AgoraKernels

/// Reads undirected edge lists: one edge `i j` per line (0-based agent indices), optionally with a
/// third column, a weight w_ij > 0 for custom mixing weights. `#` starts a comment; blank lines and
/// CRLF endings are accepted. Every problem names the file and line.
public enum EdgeListFile {
    public struct Contents: Sendable {
        public let graph: Graph
        /// Off-diagonal weights when the file has a third column on every line, keyed by (min, max).
        public let weights: [EdgeKey: Double]?
    }

    public struct EdgeKey: Hashable, Sendable {
        public let a: Int, b: Int
        public init(_ i: Int, _ j: Int) {
            a = min(i, j)
            b = max(i, j)
        }
    }

    /// Reads `path`. `agents` fixes the agent count (indices must be below it); 0 means "largest
    /// index + 1".
    public static func read(path: String, agents: Int = 0) throws -> Contents {
        // At most 2^20 agents, each pair on a line of at most ~60 bytes: 1 GiB bounds any valid file.
        let data = try SystemFile.read(path: path, maxBytes: 1 << 30, what: "the edge-list file")
        guard let text = String(validating: data, as: UTF8.self) else {
            throw AgoraError.data(file: path, "not UTF-8 text; expected lines of 'i j' agent pairs")
        }
        return try parse(text, name: path, agents: agents)
    }

    /// Parses edge-list text; `name` is used in messages.
    public static func parse(_ text: String, name: String, agents: Int = 0) throws -> Contents {
        var edges: [(Int, Int)] = []
        var w: [EdgeKey: Double] = [:]
        var weighted: Bool? = nil
        var seen: [EdgeKey: Int] = [:]
        var maxIndex = -1
        var lineNo = 0
        // "\r\n" is one Character in Swift, so split on every newline form explicitly.
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }) {
            lineNo += 1
            var line = Substring(rawLine)
            if let h = line.firstIndex(of: "#") { line = line[..<h] }
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "," })
            if fields.isEmpty { continue }
            guard fields.count == 2 || fields.count == 3 else {
                throw AgoraError.data(file: name, line: lineNo, "expected 'i j' or 'i j weight', found \(fields.count) fields")
            }
            guard let i = Int(fields[0]) else {
                throw AgoraError.data(file: name, line: lineNo, "field 1 '\(fields[0])' is not an agent index (a non-negative integer)")
            }
            guard let j = Int(fields[1]) else {
                throw AgoraError.data(file: name, line: lineNo, "field 2 '\(fields[1])' is not an agent index (a non-negative integer)")
            }
            guard i >= 0 else { throw AgoraError.data(file: name, line: lineNo, "agent index \(i) is negative") }
            guard j >= 0 else { throw AgoraError.data(file: name, line: lineNo, "agent index \(j) is negative") }
            guard max(i, j) < Topology.maxAgents else {
                throw AgoraError.data(
                    file: name, line: lineNo, "agent index \(max(i, j)) is above the largest supported index \(Topology.maxAgents - 1)")
            }
            if agents > 0 {
                guard i < agents, j < agents else {
                    throw AgoraError.data(file: name, line: lineNo, "agent index \(max(i, j)) is outside 0..<\(agents)")
                }
            }
            guard i != j else {
                throw AgoraError.data(
                    file: name, line: lineNo,
                    "self-loop on agent \(i); the diagonal weight is implied, list only edges between different agents")
            }
            let key = EdgeKey(i, j)
            if let first = seen[key] {
                throw AgoraError.data(file: name, line: lineNo, "duplicate edge \(key.a)-\(key.b) (first listed on line \(first))")
            }
            seen[key] = lineNo
            let hasWeight = fields.count == 3
            if let wd = weighted, wd != hasWeight {
                throw AgoraError.data(
                    file: name, line: lineNo,
                    "\(hasWeight ? "has" : "lacks") a weight column while earlier lines \(wd ? "have" : "do not"); give weights on every line or on none"
                )
            }
            weighted = hasWeight
            if hasWeight {
                guard let v = Double(fields[2]), v.isFinite else {
                    throw AgoraError.data(file: name, line: lineNo, "field 3 '\(fields[2])' is not a number (a weight)")
                }
                guard v > 0 else {
                    // A zero weight is no edge: the graph's connectivity would be checked on an edge
                    // that W does not have, and W could fall apart into pieces that never mix.
                    throw AgoraError.data(
                        file: name, line: lineNo,
                        v == 0
                            ? "weight 0: an edge of weight 0 is no edge; leave the line out (the graph must stay connected without it)"
                            : "negative weight \(fields[2]); mixing weights must be positive")
                }
                w[key] = v
            }
            edges.append((i, j))
            maxIndex = max(maxIndex, i, j)
        }
        let n = agents > 0 ? agents : maxIndex + 1
        guard n >= 1 else { throw AgoraError.data(file: name, "no edges and no agent count; expected lines of 'i j'") }
        let g = try Graph(agents: n, edges: edges)
        return Contents(graph: g, weights: weighted == true ? w : nil)
    }
}
