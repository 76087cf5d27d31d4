import AgoraKernels
import AgoraTestSupport
import Foundation
import XCTest

@testable import AgoraTopology

final class TopologyTests: XCTestCase {
    /// Symmetric, doubly stochastic, non-negative, supported on the graph plus the diagonal.
    func assertValidMixing(_ w: MixingMatrix, _ g: Graph, file: StaticString = #filePath, line: UInt = #line) {
        let d = w.csr.dense()
        let n = g.agents
        for i in 0..<n {
            var row = 0.0, col = 0.0
            for j in 0..<n {
                row += d[i, j]
                col += d[j, i]
                XCTAssertEqual(d[i, j], d[j, i], accuracy: 1e-15, "symmetry", file: file, line: line)
                XCTAssertGreaterThanOrEqual(d[i, j], 0, file: file, line: line)
                if i != j && d[i, j] != 0 { XCTAssertTrue(g.neighbors[i].contains(j), "weight off the graph", file: file, line: line) }
            }
            XCTAssertEqual(row, 1, accuracy: 1e-12, file: file, line: line)
            XCTAssertEqual(col, 1, accuracy: 1e-12, file: file, line: line)
        }
    }

    func testStaticFamiliesDegreesAndConnectivity() throws {
        let n = 16
        let cases: [(Topology, (Graph) -> Void)] = [
            (
                .ring,
                { g in
                    XCTAssertEqual(g.degrees, [Int](repeating: 2, count: n))
                    XCTAssertEqual(g.edgeCount, n)
                }
            ),
            (
                .torus(rows: 4, cols: 4),
                { g in
                    XCTAssertEqual(g.degrees, [Int](repeating: 4, count: n))
                    XCTAssertEqual(g.edgeCount, 32)
                }
            ),
            (.torus(rows: 0, cols: 0), { g in XCTAssertEqual(g.degrees, [Int](repeating: 4, count: n)) }),
            (
                .star,
                { g in
                    XCTAssertEqual(g.degrees[0], n - 1)
                    XCTAssertEqual(Set(g.degrees.dropFirst()), [1])
                }
            ),
            (.complete, { g in XCTAssertEqual(g.edgeCount, n * (n - 1) / 2) }),
            (.exponential, { g in XCTAssertEqual(g.neighbors[0], [1, 2, 4, 8, 12, 14, 15]) }),
            (.erdosRenyi(p: 0.3), { g in XCTAssertTrue(g.isConnected) }),
            (.randomRegular(k: 3), { g in XCTAssertEqual(g.degrees, [Int](repeating: 3, count: n)) }),
            (.smallWorld(k: 4, beta: 0.2), { g in XCTAssertEqual(g.edgeCount, n * 2) }),
        ]
        for (t, check) in cases {
            let g = try t.graph(agents: n, seed: 42)
            XCTAssertTrue(g.isConnected, "\(t)")
            check(g)
            for scheme in WeightScheme.allCases where scheme != .uniform || Set(g.degrees).count == 1 {
                assertValidMixing(try MixingMatrix(graph: g, scheme: scheme), g)
            }
            // Seeded: the same seed gives the same graph.
            XCTAssertEqual(try t.graph(agents: n, seed: 42), g, "\(t)")
        }
        XCTAssertNotEqual(
            try Topology.erdosRenyi(p: 0.3).graph(agents: n, seed: 1), try Topology.erdosRenyi(p: 0.3).graph(agents: n, seed: 2))
    }

    /// The encoded form is agents + neighbour lists; degrees are derived again when decoding.
    /// The exponential graph is built from lists; they must be the sets of its definition (i and
    /// i + 2^k linked for every 2^k < n), sorted: small sizes, powers of two and others.
    func testExponentialGraphEqualsItsDefinition() throws {
        for n in [1, 2, 3, 5, 8, 16, 17, 100, 1024, 1000] {
            var sets = [Set<Int>](repeating: [], count: n)
            var h = 1
            while h < n {
                for i in 0..<n where (i + h) % n != i {
                    sets[i].insert((i + h) % n)
                    sets[(i + h) % n].insert(i)
                }
                h *= 2
            }
            let g = try Topology.exponential.graph(agents: n)
            XCTAssertEqual(g.neighbors, sets.map { $0.sorted() }, "n = \(n)")
            XCTAssertEqual(g.degrees, sets.map(\.count), "n = \(n)")
        }
    }

    func testGraphRoundTripsThroughJSONWithDerivedDegrees() throws {
        let g = try Topology.randomRegular(k: 4).graph(agents: 20, seed: 2)
        let data = try JSONEncoder().encode(g)
        let keys = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any]).keys
        XCTAssertEqual(Set(keys), ["agents", "neighbors"])
        let back = try JSONDecoder().decode(Graph.self, from: data)
        XCTAssertEqual(back, g)
        XCTAssertEqual(back.degrees, g.neighbors.map(\.count))
        XCTAssertEqual(back.edgeCount, 40)
        XCTAssertEqual(back.maxDegree, 4)
    }

    func testSmallSizes() throws {
        for t: Topology in [.ring, .star, .complete, .exponential, .torus(rows: 0, cols: 0)] {
            XCTAssertEqual(try t.graph(agents: 1).degrees, [0], "\(t)")
            XCTAssertEqual(try t.graph(agents: 2).degrees, [1, 1], "\(t)")
        }
        XCTAssertEqual(try Topology.torus(rows: 2, cols: 3).graph(agents: 6).degrees, [3, 3, 3, 3, 3, 3])
    }

    func testOnePeerExponentialIsAMatchingPerStepAndConnectedOverAPeriod() throws {
        let t = Topology.onePeerExponential
        for n in [8, 12] {
            XCTAssertEqual(t.period(agents: n), n == 8 ? 3 : 4)
            for it in 0..<t.period(agents: n) {
                let g = try t.graph(agents: n, iteration: it)
                XCTAssertLessThanOrEqual(g.maxDegree, 1)
                assertValidMixing(try MixingMatrix(graph: g, scheme: .metropolis), g)
            }
            XCTAssertTrue(try t.unionGraph(agents: n).isConnected)
        }
        // n a power of two: one period of pairwise averaging is exact averaging.
        let n = 8
        var x = try Matrix<Double>((0..<n).map { [Double($0 * $0)] })
        var y = Matrix<Double>(rows: n, cols: 1)
        for it in 0..<3 {
            let op: MixingOperator<Double> = try MixingMatrix(graph: t.graph(agents: n, iteration: it), scheme: .metropolis)
                .mixingOperator()
            try Kernels.mix(op, x, into: &y)
            swap(&x, &y)
        }
        for i in 0..<n { XCTAssertEqual(x[i, 0], 17.5, accuracy: 1e-12) }
    }

    func testKnownSpectralGaps() throws {
        for n in [3, 5, 10, 17] {
            // Ring with 1/3 on self and each neighbour = Metropolis on a ring.
            let gap = try MixingMatrix(graph: Topology.ring.graph(agents: n), scheme: .metropolis).spectralGap()
            XCTAssertEqual(gap, (2.0 / 3.0) * (1 - cos(2 * Double.pi / Double(n))), accuracy: 1e-12, "ring n=\(n)")
            // Complete graph with uniform weights 1/n: W = J/n, all other eigenvalues 0.
            let full = try MixingMatrix(graph: Topology.complete.graph(agents: n), scheme: .uniform).spectralGap()
            XCTAssertEqual(full, 1, accuracy: 1e-12, "complete n=\(n)")
        }
        // The ring's gap shrinks like 1/n^2; the exponential graph's does not.
        let ring = try MixingMatrix(graph: Topology.ring.graph(agents: 64), scheme: .metropolis).spectralGap()
        let expo = try MixingMatrix(graph: Topology.exponential.graph(agents: 64), scheme: .metropolis).spectralGap()
        XCTAssertGreaterThan(expo, 10 * ring)
    }

    func tempFile(_ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "agora-edges-\(UUID().uuidString).txt"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testEdgeListFile() throws {
        let path = try tempFile("# a square with a diagonal\r\n0 1\n1 2\n\n2 3 # comment\n3 0\n0 2")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let g = try Topology.file(path: path).graph(agents: 4)
        XCTAssertEqual(g.degrees, [3, 2, 3, 2])
        let t = try Topology(parsing: "file:\(path)")
        XCTAssertEqual(try t.graph(agents: 4), g)
        let weighted = try EdgeListFile.parse("0 1 0.5\n1 2 0.25\n", name: "w.txt")
        let w = try MixingMatrix(graph: weighted.graph, weights: weighted.weights!)
        XCTAssertEqual(w.csr.dense()[1, 1], 0.25, accuracy: 1e-15)
    }

    func testEveryValidationErrorNamesTheProblem() throws {
        func expect(_ fragment: String, _ body: () throws -> Void, line: UInt = #line) {
            XCTAssertThrowsError(try body(), line: line) { e in
                XCTAssertTrue("\(e)".contains(fragment), "'\(e)' does not contain '\(fragment)'", line: line)
            }
        }
        // Files: self-loops, duplicates, bad fields, out of range, mixed weight columns, disconnected.
        expect("g.txt:2: self-loop on agent 1") { _ = try EdgeListFile.parse("0 1\n1 1\n", name: "g.txt") }
        expect("g.txt:3: duplicate edge 0-1 (first listed on line 1)") { _ = try EdgeListFile.parse("0 1\n1 2\n1 0\n", name: "g.txt") }
        expect("g.txt:1: field 2 'x' is not an agent index") { _ = try EdgeListFile.parse("0 x\n", name: "g.txt") }
        expect("g.txt:1: expected 'i j' or 'i j weight', found 1 fields") { _ = try EdgeListFile.parse("7\n", name: "g.txt") }
        expect("g.txt:2: agent index 5 is outside 0..<4") { _ = try EdgeListFile.parse("0 1\n0 5\n", name: "g.txt", agents: 4) }
        expect("g.txt:1: agent index -1 is negative") { _ = try EdgeListFile.parse("-1 2\n", name: "g.txt") }
        expect("g.txt:2: lacks a weight column") { _ = try EdgeListFile.parse("0 1 0.5\n1 2\n", name: "g.txt") }
        expect("g.txt:1: negative weight -0.5") { _ = try EdgeListFile.parse("0 1 -0.5\n", name: "g.txt") }
        // A zero weight would pass the connectivity check on the unweighted graph while W splits.
        expect("g.txt:2: weight 0: an edge of weight 0 is no edge") {
            _ = try EdgeListFile.parse("0 1 0.5\n1 2 0\n2 3 0.5\n", name: "g.txt")
        }
        expect("g.txt: no edges") { _ = try EdgeListFile.parse("# nothing\n", name: "g.txt") }
        expect("g.txt:1: agent index 1048576 is above the largest supported index 1048575") {
            _ = try EdgeListFile.parse("0 1048576\n", name: "g.txt")
        }
        expect("/nonexistent/edges.txt: cannot read the edge-list file") {
            _ = try Topology.file(path: "/nonexistent/edges.txt").graph(agents: 3)
        }
        let path = try tempFile("0 1\n2 3\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        expect("is disconnected: 2 components of sizes 2, 2") { _ = try Topology.file(path: path).graph(agents: 4) }
        // Weights: negative self weight, asymmetry, not doubly stochastic.
        let heavy = try EdgeListFile.parse("0 1 0.7\n0 2 0.6\n", name: "h.txt")
        expect("negative weight w[0][0]") { _ = try MixingMatrix(graph: heavy.graph, weights: heavy.weights!) }
        let irregular = try Topology.star.graph(agents: 4)
        expect("uniform weights need a regular graph") { _ = try MixingMatrix(graph: irregular, scheme: .uniform) }
        let asymmetric = MixingMatrix(try CSRMatrix(rows: 2, cols: 2, entries: [[(0, 0.5), (1, 0.5)], [(0, 0.4), (1, 0.6)]]))
        expect("is not symmetric: w[0][1]") { try asymmetric.validate() }
        let notStochastic = MixingMatrix(try CSRMatrix(rows: 2, cols: 2, entries: [[(0, 0.5), (1, 0.4)], [(0, 0.4), (1, 0.5)]]))
        expect("is not doubly stochastic: row 0 sums to 0.9") { try notStochastic.validate() }
        let colOnly = MixingMatrix(try CSRMatrix(rows: 2, cols: 2, entries: [[(0, 1.0)], [(1, 1.0), (1, 0.0)]]))
        XCTAssertNoThrow(try colOnly.validate())
        // Generators.
        expect("regular:3 on 5 agents is impossible") { _ = try Topology.randomRegular(k: 3).graph(agents: 5) }
        expect("p must be in (0, 1]") { _ = try Topology.erdosRenyi(p: 0).graph(agents: 5) }
        expect("no connected graph in 200 draws") { _ = try Topology.erdosRenyi(p: 0.001).graph(agents: 50) }
        expect("K must be even") { _ = try Topology.smallWorld(k: 3, beta: 0.1).graph(agents: 10) }
        expect("torus:3x3 has 9 cells but there are 10 agents") { _ = try Topology.torus(rows: 3, cols: 3).graph(agents: 10) }
        expect("Unknown topology 'hexagon'") { _ = try Topology(parsing: "hexagon") }
        expect("expected a degree K") { _ = try Topology(parsing: "regular:x") }
        expect("needs at least 1 agent") { _ = try Topology.ring.graph(agents: 0) }
        expect("Duplicate edge (1, 0)") { _ = try Graph(agents: 3, edges: [(0, 1), (1, 0)]) }
        expect("Self-loop on agent 2") { _ = try Graph(agents: 3, edges: [(2, 2)]) }
    }

    func testParsingRoundTrips() throws {
        for t: Topology in [
            .ring, .torus(rows: 4, cols: 8), .star, .complete, .exponential, .onePeerExponential,
            .erdosRenyi(p: 0.25), .randomRegular(k: 4), .smallWorld(k: 4, beta: 0.1), .file(path: "/tmp/a:b.txt"),
        ] {
            XCTAssertEqual(try Topology(parsing: t.description), t)
        }
    }
}

/// The spectral gap by structure: the circulant closed form and Lanczos against the dense solve.
final class SpectralGapTests: XCTestCase {
    func testCirculantClosedFormEqualsTheDenseSolve() throws {
        for topology in [Topology.ring, .exponential, .complete] {
            for n in [2, 3, 7, 64, 100] {
                let w = try MixingMatrix(graph: try topology.graph(agents: n), scheme: .metropolis)
                let (gap, method) = try w.spectralGapWithMethod()
                XCTAssertEqual(method, .circulant, "\(topology) n=\(n)")
                let ev = try w.eigenvalues()
                let dense = 1 - max(abs(ev[ev.count - 2]), abs(ev[0]))
                XCTAssertEqual(gap, dense, accuracy: 1e-12, "\(topology) n=\(n)")
            }
        }
        // A torus is not circulant in agent order: it goes to the dense solve at this size.
        let torus = try MixingMatrix(graph: try Topology.torus(rows: 4, cols: 6).graph(agents: 24), scheme: .metropolis)
        XCTAssertEqual(try torus.spectralGapWithMethod().method, .dense)
    }

    func testLanczosMatchesTheDenseSolve() throws {
        for topology in [Topology.torus(rows: 0, cols: 0), .smallWorld(k: 4, beta: 0.1), .randomRegular(k: 3), .star] {
            let w = try MixingMatrix(graph: try topology.graph(agents: 400, seed: 3), scheme: .metropolis)
            let ev = try w.eigenvalues()
            let dense = max(abs(ev[ev.count - 2]), abs(ev[0]))
            XCTAssertEqual(try w.lanczosSpectralRadiusDeflated(), dense, accuracy: 1e-9 * max(1, dense), "\(topology)")
        }
    }
}
