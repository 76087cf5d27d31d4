/// Graphviz DOT text for a directed graph (`dot -Tsvg graph.dot` draws it).
///
/// Node and edge labels are quoted and escaped, so any text is safe in them.
public struct DOTGraph: Sendable, Equatable {
    public struct Node: Sendable, Equatable {
        public var id: Int
        public var label: String
        /// Drawn in red (e.g. an attacker).
        public var highlighted: Bool
        public init(id: Int, label: String, highlighted: Bool = false) {
            self.id = id
            self.label = label
            self.highlighted = highlighted
        }
    }

    public struct Edge: Sendable, Equatable {
        public var from: Int
        public var to: Int
        public var label: String?
        public init(from: Int, to: Int, label: String? = nil) {
            self.from = from
            self.to = to
            self.label = label
        }
    }

    public var name: String
    /// A `//` comment line under the header (what an edge means).
    public var comment: String?
    public var nodes: [Node]
    public var edges: [Edge]

    public init(name: String, comment: String? = nil, nodes: [Node], edges: [Edge]) {
        self.name = name
        self.comment = comment
        self.nodes = nodes
        self.edges = edges
    }

    /// A string as a DOT quoted identifier: quotes and backslashes escaped, line breaks as `\n`.
    static func quoted(_ s: String) -> String {
        var out = "\""
        for c in s {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": continue
            default: out.append(c)
            }
        }
        return out + "\""
    }

    /// The DOT text.
    public var text: String {
        var dot = "digraph \(DOTGraph.quoted(name)) {\n"
        if let comment { dot += "  // " + comment.replacingNewlines() + "\n" }
        for n in nodes {
            dot += "  \(n.id) [label=\(DOTGraph.quoted(n.label))\(n.highlighted ? ", color=red" : "")];\n"
        }
        for e in edges {
            dot += "  \(e.from) -> \(e.to)" + (e.label.map { " [label=\(DOTGraph.quoted($0))]" } ?? "") + ";\n"
        }
        return dot + "}\n"
    }
}

extension String {
    fileprivate func replacingNewlines() -> String { String(map { $0 == "\n" || $0 == "\r" ? " " : $0 }) }
}
