import AgoraKernels

/// An undirected simple graph on agents 0..<n: no self-loops, no duplicate edges.
///
/// `neighbors[i]` is sorted ascending and never contains `i`.
public struct Graph: Sendable, Equatable, Codable {
    public let agents: Int
    public let neighbors: [[Int]]
    /// `neighbors[i].count` for every agent, kept with the (immutable) neighbour lists: payments and
    /// exchanges ask for the degrees every iteration, and counting 256 nested arrays cost ~8 us.
    public let degrees: [Int]

    /// Builds a graph from an edge list, rejecting self-loops, duplicates and out-of-range agents.
    /// Connectivity is *not* required here (time-varying schedules use disconnected steps); call
    /// `requireConnected()` where it matters.
    public init(agents n: Int, edges: [(Int, Int)]) throws {
        guard n >= 1 else { throw AgoraError.configuration("A graph needs at least 1 agent, got \(n)") }
        var sets = [Set<Int>](repeating: [], count: n)
        for (a, b) in edges {
            guard a >= 0, a < n, b >= 0, b < n else {
                throw AgoraError.configuration("Edge (\(a), \(b)) names an agent outside 0..<\(n)")
            }
            guard a != b else { throw AgoraError.configuration("Self-loop on agent \(a): edges must join two different agents") }
            guard !sets[a].contains(b) else { throw AgoraError.configuration("Duplicate edge (\(a), \(b))") }
            sets[a].insert(b)
            sets[b].insert(a)
        }
        self.init(agents: n, sortedNeighbors: sets.map { $0.sorted() })
    }

    /// Builds a graph from neighbour sets that are already symmetric and loop-free (internal use
    /// by the generators; duplicates are impossible by construction).
    init(agents n: Int, neighborSets: [Set<Int>]) {
        self.init(agents: n, sortedNeighbors: neighborSets.map { $0.sorted() })
    }

    /// From neighbour lists already sorted and free of repeats.
    init(agents n: Int, sortedNeighbors: [[Int]]) {
        agents = n
        neighbors = sortedNeighbors
        degrees = sortedNeighbors.map(\.count)
    }

    private enum CodingKeys: String, CodingKey { case agents, neighbors }

    /// Decodes the agents and neighbour lists (the encoded form has no degrees: they are derived).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(agents: try c.decode(Int.self, forKey: .agents), sortedNeighbors: try c.decode([[Int]].self, forKey: .neighbors))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(agents, forKey: .agents)
        try c.encode(neighbors, forKey: .neighbors)
    }

    public var edgeCount: Int { degrees.reduce(0, +) / 2 }
    public var maxDegree: Int { degrees.max() ?? 0 }

    /// Edges (i, j) with i < j, in order.
    public var edges: [(Int, Int)] {
        var e: [(Int, Int)] = []
        for i in 0..<agents { for j in neighbors[i] where j > i { e.append((i, j)) } }
        return e
    }

    /// Connected components, each sorted, ordered by smallest member.
    public var components: [[Int]] {
        var label = [Int](repeating: -1, count: agents)
        var comps: [[Int]] = []
        for s in 0..<agents where label[s] < 0 {
            var stack = [s], comp: [Int] = []
            label[s] = comps.count
            while let v = stack.popLast() {
                comp.append(v)
                for u in neighbors[v] where label[u] < 0 {
                    label[u] = comps.count
                    stack.append(u)
                }
            }
            comps.append(comp.sorted())
        }
        return comps
    }

    public var isConnected: Bool { agents <= 1 || components.count == 1 }

    /// Throws a `AgoraError` describing the components when the graph is disconnected.
    public func requireConnected(_ what: String = "graph") throws {
        let c = components
        guard c.count > 1 else { return }
        let sizes = c.map(\.count)
        let sample = c.prefix(3).map { comp -> String in
            let head = comp.prefix(5).map(String.init).joined(separator: ", ")
            return "{" + head + (comp.count > 5 ? ", ..." : "") + "}"
        }.joined(separator: " ")
        throw AgoraError.configuration(
            "The \(what) is disconnected: \(c.count) components of sizes \(sizes.prefix(10).map(String.init).joined(separator: ", "))"
                + (sizes.count > 10 ? ", ..." : "") + " (e.g. \(sample)); decentralized averaging needs a connected graph")
    }

    /// Union with another graph on the same agents (for time-varying schedules).
    public func union(_ other: Graph) -> Graph {
        precondition(agents == other.agents)
        var sets = neighbors.map(Set.init)
        for i in 0..<agents { sets[i].formUnion(other.neighbors[i]) }
        return Graph(agents: agents, neighborSets: sets)
    }
}
