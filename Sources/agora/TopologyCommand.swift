import AgoraExperiments
import AgoraKernels
import AgoraLearning
import AgoraMechanisms
import AgoraReports
import AgoraTopology
import ArgumentParser
import Foundation

struct TopologyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topology",
        abstract: "Describe a topology and its mixing weights: degrees, connectivity, spectral gap.")

    @OptionGroup var graph: GraphOptions
    @Flag(help: "Print one JSON object on stdout.") var json = false
    @Flag(help: "Also list the edges.") var edges = false

    struct Summary: Codable {
        let topology: String, weights: String, agents: Int, edges: Int
        let degreeMin: Int, degreeMax: Int, degreeMean: Double
        let timeVarying: Bool, period: Int, spectralGap: Double
        /// circulant (closed form), dense (LAPACK) or lanczos (estimate for large graphs).
        let spectralGapMethod: String
        let edgeList: [[Int]]?
    }

    func run() throws {
        try reportingErrors {
            let (t, w) = try graph.parsed()
            let g = try t.unionGraph(agents: graph.agents, seed: graph.seed)
            let gap = try t.scheduleMixingMatrix(agents: graph.agents, scheme: w, seed: graph.seed).spectralGapWithMethod()
            let d = g.degrees
            let s = Summary(
                topology: t.description, weights: try t.hasOwnWeights(agents: graph.agents) ? "edge-list file" : w.rawValue,
                agents: g.agents, edges: g.edgeCount,
                degreeMin: d.min() ?? 0, degreeMax: d.max() ?? 0,
                degreeMean: Double(d.reduce(0, +)) / Double(max(1, d.count)),
                timeVarying: t.isTimeVarying, period: t.period(agents: g.agents), spectralGap: gap.gap,
                spectralGapMethod: gap.method.rawValue,
                edgeList: edges ? g.edges.map { [$0.0, $0.1] } : nil)
            if json {
                print(try JSONOutput.line(s))
                return
            }
            print("topology      \(s.topology)\(s.timeVarying ? " (time-varying, period \(s.period); figures for the union)" : "")")
            print("weights       \(s.weights)")
            print("agents        \(s.agents)")
            print("edges         \(s.edges)")
            print("degree        min \(s.degreeMin), mean \(fmt(s.degreeMean)), max \(s.degreeMax)")
            print("spectral gap  \(fmt(s.spectralGap)) (\(s.spectralGapMethod))")
            if edges { for (a, b) in g.edges { print("\(a) \(b)") } }
        }
    }
}
