import AgoraKernels
import AgoraLearning
import AgoraTestSupport
import XCTest

final class PartitionTests: XCTestCase {
    /// 10 classes, uneven class sizes, 3000 rows.
    let labels: [Int] = (0..<3000).map { ($0 * 7 + $0 / 13) % 10 }

    func checkCovers(_ p: Partition, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(p.sizes.reduce(0, +), labels.count, "sizes sum to the data set", file: file, line: line)
        XCTAssertEqual(p.agents.flatMap { $0 }.sorted(), Array(0..<labels.count), "every row exactly once", file: file, line: line)
        XCTAssertTrue(p.sizes.allSatisfy { $0 >= 1 }, "no empty agent", file: file, line: line)
        XCTAssertEqual(p.labelHistograms.map { $0.reduce(0, +) }, p.sizes, file: file, line: line)
    }

    func testEverySchemeCoversTheDataAndIsReproducible() throws {
        for scheme: PartitionScheme in [
            .iid, .dirichlet(beta: 0.1), .dirichlet(beta: 1), .shards(perAgent: 2), .classGroups(groups: 2),
            .classGroups(groups: 3), .quantitySkew(alpha: 0.5),
        ] {
            let agents = scheme == .classGroups(groups: 3) ? 9 : 10
            let p = try Partition(labels: labels, classes: 10, agents: agents, scheme: scheme, seed: 5)
            checkCovers(p)
            let q = try Partition(labels: labels, classes: 10, agents: agents, scheme: scheme, seed: 5)
            XCTAssertEqual(p.agents, q.agents, "\(scheme): same seed, same split")
            XCTAssertEqual(try PartitionScheme(parsing: scheme.description), scheme)
        }
        let a = try Partition(labels: labels, classes: 10, agents: 10, scheme: .dirichlet(beta: 0.5), seed: 1)
        let b = try Partition(labels: labels, classes: 10, agents: 10, scheme: .dirichlet(beta: 0.5), seed: 2)
        XCTAssertNotEqual(a.agents, b.agents)
    }

    /// Total-variation distance of each agent's label distribution from the global one.
    func meanTV(_ p: Partition) -> Double {
        let global = p.labelHistograms.reduce([Int](repeating: 0, count: 10)) { zip($0, $1).map(+) }
        let g = global.map { Double($0) / Double(labels.count) }
        var tv = 0.0
        for h in p.labelHistograms {
            let s = Double(h.reduce(0, +))
            tv += 0.5 * zip(h, g).reduce(0.0) { $0 + abs(Double($1.0) / s - $1.1) }
        }
        return tv / Double(p.agents.count)
    }

    func testDirichletApproachesIIDAsBetaGrows() throws {
        let skewed = meanTV(try Partition(labels: labels, classes: 10, agents: 10, scheme: .dirichlet(beta: 0.1), seed: 3))
        let mild = meanTV(try Partition(labels: labels, classes: 10, agents: 10, scheme: .dirichlet(beta: 10), seed: 3))
        let flat = meanTV(try Partition(labels: labels, classes: 10, agents: 10, scheme: .dirichlet(beta: 1e4), seed: 3))
        let iid = meanTV(try Partition(labels: labels, classes: 10, agents: 10, scheme: .iid, seed: 3))
        XCTAssertGreaterThan(skewed, 0.4)
        XCTAssertLessThan(flat, mild)
        XCTAssertLessThan(flat, 0.05)
        XCTAssertLessThan(iid, 0.1)
    }

    /// A tiny concentration makes every Gamma draw underflow; the shares still follow the draws
    /// (one agent takes almost everything) instead of silently becoming equal, and moderate
    /// concentrations are unchanged by the logarithms kept beside the values.
    func testTinyDirichletConcentrationDoesNotBecomeEqualShares() throws {
        var g = SeededGenerator(seed: 5)
        for _ in 0..<20 {
            let shares = g.dirichlet(count: 10, alpha: 1e-5)
            XCTAssertEqual(shares.reduce(0, +), 1, accuracy: 1e-12)
            XCTAssertGreaterThan(shares.max()!, 0.99, "\(shares)")
        }
        var a = SeededGenerator(seed: 9), b = a
        for alpha in [0.1, 0.5, 2.0] {
            let shares = a.dirichlet(count: 6, alpha: alpha)
            let gammas = (0..<6).map { _ in b.gamma(shape: alpha) }
            let total = gammas.reduce(0, +)
            XCTAssertEqual(shares, gammas.map { $0 / total }, "alpha \(alpha): the shares are the normalised draws")
        }
        // As a partition: each class lands (almost) wholly on one agent, never an equal split (or,
        // when no draw gives every agent its minimum rows, a refusal that says so).
        do {
            let p = try Partition(labels: labels, classes: 10, agents: 10, scheme: .dirichlet(beta: 1e-5), seed: 3)
            for c in 0..<10 {
                let perAgent = p.labelHistograms.map { $0[c] }
                XCTAssertGreaterThan(Double(perAgent.max()!), 0.9 * Double(perAgent.reduce(0, +)), "class \(c): \(perAgent)")
            }
        } catch {
            XCTAssertTrue("\(error)".contains("no dirichlet:1e-05 split"), "\(error)")
        }
    }

    func testClassGroupsAreDisjoint() throws {
        let p = try Partition(labels: labels, classes: 10, agents: 10, scheme: .classGroups(groups: 2), seed: 1)
        for (a, h) in p.labelHistograms.enumerated() {
            let present = Set(h.indices.filter { h[$0] > 0 })
            XCTAssertTrue(present.isSubset(of: a < 5 ? Set(0..<5) : Set(5..<10)), "agent \(a) has classes \(present)")
        }
    }

    func testShardsGiveFewClassesPerAgent() throws {
        let p = try Partition(labels: labels, classes: 10, agents: 10, scheme: .shards(perAgent: 2), seed: 1)
        for h in p.labelHistograms { XCTAssertLessThanOrEqual(h.filter { $0 > 0 }.count, 4) }
    }

    func testErrors() {
        func expect(_ body: () throws -> Void, _ fragment: String, line: UInt = #line) {
            XCTAssertThrowsError(try body(), line: line) { e in
                XCTAssertTrue("\(e)".contains(fragment), "'\(e)' lacks '\(fragment)'", line: line)
            }
        }
        expect({ _ = try Partition(labels: [0, 1], classes: 2, agents: 3, scheme: .iid, seed: 1) }, "2 rows cannot give each of 3 agents")
        expect({ _ = try Partition(labels: self.labels, classes: 10, agents: 0, scheme: .iid, seed: 1) }, "at least 1")
        expect(
            { _ = try Partition(labels: self.labels, classes: 10, agents: 4, scheme: .dirichlet(beta: 0), seed: 1) },
            "beta must be positive")
        expect({ _ = try Partition(labels: self.labels, classes: 10, agents: 4, scheme: .classGroups(groups: 5), seed: 1) }, "G <= agents")
        expect({ _ = try PartitionScheme(parsing: "banana") }, "unknown partition 'banana'")
        expect({ _ = try PartitionScheme(parsing: "dirichlet") }, "expected dirichlet:BETA")
    }
}
