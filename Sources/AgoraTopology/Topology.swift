import AgoraKernels

/// A family of communication graphs, as BlueFog users know them, plus edge-list files.
///
/// Static topologies give one graph; `onePeerExponential` is time-varying: `graph(at:)` changes
/// with the iteration and only the union over a period is connected.
public enum Topology: Sendable, Equatable, Codable, CustomStringConvertible {
    /// The largest number of agents a graph may have (2^20).
    public static let maxAgents = 1 << 20

    /// Cycle i ~ i +- 1.
    case ring
    /// 2-D grid with wrap-around; `rows x cols` must equal the agent count (0 = most square split).
    case torus(rows: Int, cols: Int)
    /// Agent 0 joined to every other agent.
    case star
    /// Every pair joined.
    case complete
    /// Static exponential graph: i ~ i +- 2^k (mod n) for 2^k < n.
    case exponential
    /// One-peer exponential (time-varying): at iteration t, i pairs with i XOR 2^(t mod ceil(log2 n))
    /// when that agent exists. Each step is a matching; over a period the union is a hypercube-like
    /// connected graph (for n a power of two, one period of averaging is exact).
    case onePeerExponential
    /// Erdos-Renyi G(n, p), resampled (same seed stream) until connected.
    case erdosRenyi(p: Double)
    /// Uniform random k-regular simple connected graph (n k even, k < n).
    case randomRegular(k: Int)
    /// Watts-Strogatz: ring lattice with k nearest neighbours (k even), each edge rewired with
    /// probability beta; resampled until connected.
    case smallWorld(k: Int, beta: Double)
    /// Undirected edge list file: one `i j` per line (0-based agents), `#` comments, blank lines.
    case file(path: String)

    public var description: String {
        switch self {
        case .ring: return "ring"
        case let .torus(r, c): return r == 0 ? "torus" : "torus:\(r)x\(c)"
        case .star: return "star"
        case .complete: return "complete"
        case .exponential: return "exponential"
        case .onePeerExponential: return "one-peer-exponential"
        case let .erdosRenyi(p): return "erdos-renyi:\(p)"
        case let .randomRegular(k): return "regular:\(k)"
        case let .smallWorld(k, b): return "small-world:\(k):\(b)"
        case let .file(path): return "file:\(path)"
        }
    }

    /// Parses the CLI spelling: `ring`, `torus[:RxC]`, `star`, `complete`, `exponential` (`exp`),
    /// `one-peer-exponential` (`one-peer-exp`), `erdos-renyi:P` (`er:P`), `regular:K`,
    /// `small-world:K:BETA` (`ws:K:BETA`), `file:PATH`.
    public init(parsing text: String) throws {
        let parts = text.split(separator: ":", maxSplits: text.hasPrefix("file:") ? 1 : 2).map(String.init)
        let name = parts.first?.lowercased() ?? ""
        func num<N: LosslessStringConvertible>(_ i: Int, _ what: String) throws -> N {
            guard parts.count > i, let v = N(parts[i]) else {
                throw AgoraError.configuration("Topology '\(text)': expected \(what) after '\(name):'")
            }
            return v
        }
        func noArgument() throws {
            guard parts.count == 1 else {
                throw AgoraError.configuration("Topology '\(text)': '\(name)' takes no argument (the agent count is given separately)")
            }
        }
        func arguments(_ n: Int, _ spelling: String) throws {
            guard parts.count == n + 1 else { throw AgoraError.configuration("Topology '\(text)': expected \(spelling)") }
        }
        switch name {
        case "ring":
            try noArgument()
            self = .ring
        case "torus", "grid":
            if parts.count == 1 {
                self = .torus(rows: 0, cols: 0)
                return
            }
            let dims = parts[1].lowercased().split(separator: "x", omittingEmptySubsequences: false).map { Int($0) }
            guard dims.count == 2, let r = dims[0], let c = dims[1], r >= 1, c >= 1,
                r <= Topology.maxAgents, c <= Topology.maxAgents, r * c <= Topology.maxAgents
            else {
                throw AgoraError.configuration(
                    "Topology '\(text)': expected torus:ROWSxCOLS with positive sides and at most \(Topology.maxAgents) agents, e.g. torus:4x4"
                )
            }
            self = .torus(rows: r, cols: c)
        case "star":
            try noArgument()
            self = .star
        case "complete", "full":
            try noArgument()
            self = .complete
        case "exponential", "exp":
            try noArgument()
            self = .exponential
        case "one-peer-exponential", "one-peer-exp", "onepeer":
            try noArgument()
            self = .onePeerExponential
        case "erdos-renyi", "er":
            try arguments(1, "erdos-renyi:P")
            let p: Double = try num(1, "an edge probability P")
            guard p.isFinite, p > 0, p <= 1 else {
                throw AgoraError.configuration("Topology '\(text)': the edge probability P must be in (0, 1], got \(parts[1])")
            }
            self = .erdosRenyi(p: p)
        case "regular", "random-regular":
            try arguments(1, "regular:K")
            self = .randomRegular(k: try num(1, "a degree K"))
        case "small-world", "ws", "watts-strogatz":
            try arguments(2, "small-world:K:BETA")
            self = .smallWorld(k: try num(1, "a neighbour count K"), beta: try num(2, "a rewiring probability BETA (as K:BETA)"))
        case "file":
            guard parts.count == 2, !parts[1].isEmpty else { throw AgoraError.configuration("Topology '\(text)': expected file:PATH") }
            self = .file(path: parts[1])
        default:
            throw AgoraError.configuration(
                "Unknown topology '\(text)'; expected one of ring, torus[:RxC], star, complete, exponential, one-peer-exponential, erdos-renyi:P, regular:K, small-world:K:BETA, file:PATH"
            )
        }
    }

    /// Whether the graph changes with the iteration.
    public var isTimeVarying: Bool { self == .onePeerExponential }

    /// Number of distinct graphs in one period of a time-varying topology (1 when static).
    public func period(agents n: Int) -> Int {
        isTimeVarying ? max(1, ceilLog2(n)) : 1
    }

    /// The graph used at `iteration` (static topologies ignore it). Random families draw from
    /// `seed` only, so the same seed gives the same graph. Static graphs are validated connected.
    public func graph(agents n: Int, seed: UInt64 = 0, iteration: Int = 0) throws -> Graph {
        guard n >= 1 else { throw AgoraError.configuration("Topology \(self) needs at least 1 agent, got \(n)") }
        guard n <= Topology.maxAgents else {
            throw AgoraError(.resources, "Topology \(self) on \(n) agents: at most \(Topology.maxAgents) agents are supported")
        }
        // Dense families store n (n - 1) neighbour entries (hash sets: ~40 bytes each).
        switch self {
        case .complete: try ResourceLimits.check(bytes: 40 * Double(n) * Double(n - 1), for: "the complete graph on \(n) agents")
        case let .erdosRenyi(p):
            // The sampler draws one number per pair: n^2 / 2 draws per attempt.
            guard n <= 50_000 else {
                throw AgoraError(
                    .resources,
                    "Topology erdos-renyi on \(n) agents: the sampler draws n^2/2 = \(Double(n) * Double(n - 1) / 2) numbers; at most 50000 agents are supported (use regular:K or small-world:K:BETA for large random graphs)"
                )
            }
            try ResourceLimits.check(bytes: 40 * p * Double(n) * Double(n - 1), for: "erdos-renyi:\(p) on \(n) agents")
        default: break
        }
        let g: Graph
        switch self {
        case .ring:
            var s = [Set<Int>](repeating: [], count: n)
            if n > 1 {
                for i in 0..<n {
                    let j = (i + 1) % n
                    if j != i {
                        s[i].insert(j)
                        s[j].insert(i)
                    }
                }
            }
            g = Graph(agents: n, neighborSets: s)
        case let .torus(r0, c0):
            var r = r0, c = c0
            if r == 0 && c == 0 {
                r = Int(Double(n).squareRoot())
                while r > 1 && n % r != 0 { r -= 1 }
                c = n / r
            }
            guard r >= 1, c >= 1, r * c == n else {
                throw AgoraError.configuration("Topology torus:\(r0)x\(c0) has \(r0 * c0) cells but there are \(n) agents")
            }
            var s = [Set<Int>](repeating: [], count: n)
            func link(_ a: Int, _ b: Int) {
                if a != b {
                    s[a].insert(b)
                    s[b].insert(a)
                }
            }
            for i in 0..<r {
                for j in 0..<c {
                    let v = i * c + j
                    link(v, i * c + (j + 1) % c)
                    link(v, ((i + 1) % r) * c + j)
                }
            }
            g = Graph(agents: n, neighborSets: s)
        case .star:
            var s = [Set<Int>](repeating: [], count: n)
            for i in 1..<max(1, n) {
                s[0].insert(i)
                s[i].insert(0)
            }
            g = Graph(agents: n, neighborSets: s)
        case .complete:
            g = Graph(agents: n, neighborSets: (0..<n).map { i in Set((0..<n).filter { $0 != i }) })
        case .exponential:
            // Agent i's neighbours are i + 2^k and i - 2^k (mod n), sorted, without repeats: built
            // as lists (a hash set per agent took a third of the set-up at 10^6 agents).
            var lists = [[Int]]()
            lists.reserveCapacity(n)
            var buffer: [Int] = []
            for i in 0..<n {
                buffer.removeAll(keepingCapacity: true)
                var h = 1
                while h < n {
                    let up = (i + h) % n, down = (i + n - h) % n
                    if up != i { buffer.append(up) }
                    if down != i { buffer.append(down) }
                    h *= 2
                }
                buffer.sort()
                var list: [Int] = []
                list.reserveCapacity(buffer.count)
                for v in buffer where list.last != v { list.append(v) }
                lists.append(list)
            }
            g = Graph(agents: n, sortedNeighbors: lists)
        case .onePeerExponential:
            var s = [Set<Int>](repeating: [], count: n)
            if n > 1 {
                let bit = 1 << (iteration % period(agents: n))
                for i in 0..<n {
                    let j = i ^ bit
                    if j < n { s[i].insert(j) }
                }
            }
            return Graph(agents: n, neighborSets: s)
        case let .erdosRenyi(p):
            guard p > 0, p <= 1 else { throw AgoraError.configuration("Topology erdos-renyi: p must be in (0, 1], got \(p)") }
            var rng = SeededGenerator(seed: seed, stream: 0x7E57)
            var attempt = 0
            while true {
                var s = [Set<Int>](repeating: [], count: n)
                for i in 0..<n {
                    for j in (i + 1)..<max(i + 1, n) where rng.uniform() < p {
                        s[i].insert(j)
                        s[j].insert(i)
                    }
                }
                let cand = Graph(agents: n, neighborSets: s)
                if cand.isConnected {
                    g = cand
                    break
                }
                attempt += 1
                if attempt >= 200 {
                    let threshold = (Math.log(Double(n)) / Double(n) * 1000).rounded(.up) / 1000
                    throw AgoraError.configuration(
                        "Topology erdos-renyi:\(p) on \(n) agents gave no connected graph in 200 draws; use p >= ln(n)/n = \(threshold) or larger"
                    )
                }
            }
        case let .randomRegular(k):
            g = try Self.randomRegular(n: n, k: k, seed: seed)
        case let .smallWorld(k, beta):
            g = try Self.smallWorld(n: n, k: k, beta: beta, seed: seed)
        case let .file(path):
            g = try EdgeListFile.read(path: path, agents: n).graph
        }
        try g.requireConnected("\(self) graph on \(n) agents")
        return g
    }

    /// The mixing matrix used at `iteration`: the weights of a weighted edge-list file (w_ii = 1 -
    /// row sum, validated: non-negative, symmetric, doubly stochastic) when the topology is such a
    /// file, else `scheme`'s weights on `graph(agents:seed:iteration:)`.
    public func mixingMatrix(agents n: Int, scheme: WeightScheme, seed: UInt64 = 0, iteration: Int = 0) throws -> MixingMatrix {
        if case let .file(path) = self {
            let contents = try EdgeListFile.read(path: path, agents: n)
            try contents.graph.requireConnected("\(self) graph on \(n) agents")
            if let w = contents.weights { return try MixingMatrix(graph: contents.graph, weights: w) }
            return try MixingMatrix(graph: contents.graph, scheme: scheme)
        }
        return try MixingMatrix(graph: graph(agents: n, seed: seed, iteration: iteration), scheme: scheme)
    }

    /// The mixing matrix whose spectral gap describes the whole schedule: the union over one
    /// period (with `scheme`'s weights) for time-varying topologies, else `mixingMatrix`.
    public func scheduleMixingMatrix(agents n: Int, scheme: WeightScheme, seed: UInt64 = 0) throws -> MixingMatrix {
        isTimeVarying
            ? try MixingMatrix(graph: unionGraph(agents: n, seed: seed), scheme: scheme)
            : try mixingMatrix(agents: n, scheme: scheme, seed: seed)
    }

    /// Whether the weights come from the topology itself (a weighted edge-list file) rather than
    /// from a weight scheme.
    public func hasOwnWeights(agents n: Int) throws -> Bool {
        if case let .file(path) = self { return try EdgeListFile.read(path: path, agents: n).weights != nil }
        return false
    }

    /// For time-varying topologies, the union over one period, validated connected.
    public func unionGraph(agents n: Int, seed: UInt64 = 0) throws -> Graph {
        guard isTimeVarying else { return try graph(agents: n, seed: seed) }
        var u = try graph(agents: n, seed: seed, iteration: 0)
        for t in 1..<period(agents: n) { u = u.union(try graph(agents: n, seed: seed, iteration: t)) }
        try u.requireConnected("union over one period of the \(self) schedule on \(n) agents")
        return u
    }

    static func randomRegular(n: Int, k: Int, seed: UInt64) throws -> Graph {
        guard k >= 1, k < n else { throw AgoraError.configuration("Topology regular:\(k) needs 1 <= k < n = \(n)") }
        guard (n * k) % 2 == 0 else {
            throw AgoraError.configuration("Topology regular:\(k) on \(n) agents is impossible: n * k must be even")
        }
        var rng = SeededGenerator(seed: seed, stream: 0x4E6)
        for _ in 0..<1000 {
            // Pairing model with early rejection of loops/duplicates (restart on a dead end).
            var stubs = [Int]()
            for v in 0..<n { for _ in 0..<k { stubs.append(v) } }
            var s = [Set<Int>](repeating: [], count: n)
            var failed = false
            while !stubs.isEmpty && !failed {
                var placed = false
                for _ in 0..<100 {
                    let a = Int(rng.next() % UInt64(stubs.count))
                    var b = Int(rng.next() % UInt64(stubs.count - 1))
                    if b >= a { b += 1 }
                    let u = stubs[a], v = stubs[b]
                    if u == v || s[u].contains(v) { continue }
                    s[u].insert(v)
                    s[v].insert(u)
                    for idx in [a, b].sorted(by: >) {
                        stubs.swapAt(idx, stubs.count - 1)
                        stubs.removeLast()
                    }
                    placed = true
                    break
                }
                if !placed { failed = true }
            }
            if failed { continue }
            let g = Graph(agents: n, neighborSets: s)
            if g.isConnected { return g }
        }
        throw AgoraError.configuration("Topology regular:\(k) on \(n) agents: no connected simple k-regular graph found in 1000 draws")
    }

    static func smallWorld(n: Int, k: Int, beta: Double, seed: UInt64) throws -> Graph {
        guard k >= 2, k % 2 == 0, k < n else {
            throw AgoraError.configuration("Topology small-world:\(k): K must be even with 2 <= K < n = \(n)")
        }
        guard beta >= 0, beta <= 1 else { throw AgoraError.configuration("Topology small-world: BETA must be in [0, 1], got \(beta)") }
        var rng = SeededGenerator(seed: seed, stream: 0x5A11)
        for _ in 0..<200 {
            var s = [Set<Int>](repeating: [], count: n)
            for i in 0..<n {
                for h in 1...(k / 2) {
                    let j = (i + h) % n
                    s[i].insert(j)
                    s[j].insert(i)
                }
            }
            for h in 1...(k / 2) {
                for i in 0..<n where rng.uniform() < beta {
                    let j = (i + h) % n
                    guard s[i].contains(j), s[i].count < n - 1 else { continue }
                    var t = Int(rng.next() % UInt64(n))
                    while t == i || s[i].contains(t) { t = Int(rng.next() % UInt64(n)) }
                    s[i].remove(j)
                    s[j].remove(i)
                    s[i].insert(t)
                    s[t].insert(i)
                }
            }
            let g = Graph(agents: n, neighborSets: s)
            if g.isConnected { return g }
        }
        throw AgoraError.configuration(
            "Topology small-world:\(k):\(beta) on \(n) agents: no connected graph in 200 draws; lower BETA or raise K")
    }
}

@inline(__always) func ceilLog2(_ n: Int) -> Int {
    var k = 0
    while (1 << k) < n { k += 1 }
    return k
}
