import AgoraExperiments
import AgoraKernels
import AgoraLearning
import AgoraMechanisms
import AgoraReports
import AgoraTopology
import ArgumentParser
import Foundation

struct MixCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mix",
        abstract: "Gossip averaging x <- W x on a topology: consensus error per step against the spectral-gap bound.")

    @OptionGroup var graph: GraphOptions
    @OptionGroup var backendOptions: BackendOptions
    @Option(help: "Parameter dimension per agent.") var dim: Int = 1000
    @Option(help: "Mixing steps.") var steps: Int = 30
    @Option(
        name: [.customLong("mix-strategy"), .customLong("strategy")],
        help: "Mixing kernel: auto (GEMM for dense graphs), sparse or dense (--strategy is the same option).")
    var strategy: MixStrategy = .auto
    @Option(help: "Threads for Agora's kernels (default: all cores).") var threads: Int?
    @Option(help: "Write per-step results as CSV to this file.") var csv: String?
    @Option(help: "Write an SVG plot of the consensus error (and the spectral bound) per step to this file.") var plot: String?
    @Flag(help: "Print the result as one JSON object on stdout instead of a table.") var json = false

    func run() throws {
        try reportingErrors {
            let (t, w) = try graph.parsed()
            if let threads {
                guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
                ThreadPool.shared.threads = threads
            }
            var e = ConsensusExperiment()
            e.topology = t
            e.weights = w
            e.agents = graph.agents
            e.seed = graph.seed
            e.dimension = dim
            e.steps = steps
            e.strategy = strategy
            try e.validate()
            // Under MPI every rank runs this command; only the root prints and writes.
            let (exchange, reports) = try backendOptions.make(
                topology: t, weights: w, agents: graph.agents, seed: graph.seed, strategy: strategy)
            if reports, let csv { try prepareOutputFile(csv) }
            if reports, let plot { try prepareOutputFile(plot) }
            let progress = Progress(total: reports ? steps : 0, label: "mixing")
            let r = try endingAllRanksOnError { try e.run(progress: { progress.update($0) }, exchange: exchange) }
            progress.finish()
            guard reports else { return }
            if let csv { try writeCSV(r, to: csv) }
            if let plot {
                var series = [SVGPlot.Series(name: "relative error", points: r.steps.map { (Double($0.step), $0.relativeError) })]
                if !t.isTimeVarying {
                    series.append(
                        SVGPlot.Series(
                            name: "(1 - gap)^(2t)", points: r.steps.map { (Double($0.step), $0.spectralBound ?? .nan) }, dashed: true))
                }
                try SVGPlot.write(
                    SVGPlot.lines(
                        title: "Gossip averaging: \(t) on \(graph.agents) agents, \(w.rawValue) weights",
                        xLabel: "step", yLabel: "relative consensus error", series: series, logY: true), to: plot)
            }
            if json {
                print(try JSONOutput.line(r))
                return
            }
            print(
                "topology \(t) on \(graph.agents) agents, \(w.rawValue) weights: \(r.edges) edges, degree \(r.degreeMin)..\(r.degreeMax), spectral gap \(fmt(r.spectralGap))"
            )
            print(
                "d = \(dim), kernel \(r.usesGEMM ? "dense (GEMM)" : "sparse"), \(ThreadPool.shared.threads) thread(s)\(exchange.map { " per rank, \($0.agents) agents over MPI ranks" } ?? ""), \(fmt(r.secondsPerStep * 1e6)) us per step"
            )
            print("")
            print(pad("step", 6) + pad("consensus error", 18) + pad("relative", 14) + pad("(1-gap)^2t", 14) + pad("mean drift", 12))
            for st in r.steps {
                print(
                    pad("\(st.step)", 6) + pad(fmt(st.consensusError), 18) + pad(fmt(st.relativeError), 14)
                        + pad(st.spectralBound.map(fmt) ?? "-", 14) + pad(fmt(st.meanDrift), 12))
            }
        }
    }

    func writeCSV(_ r: ConsensusExperiment.Result, to path: String) throws {
        var s = "step,consensus_error,relative_error,spectral_bound,mean_drift\n"
        for st in r.steps {
            s += "\(st.step),\(st.consensusError),\(st.relativeError),\(st.spectralBound.map { "\($0)" } ?? ""),\(st.meanDrift)\n"
        }
        do { try SystemFile.writeAtomically(s, to: path) } catch {
            throw ValidationError("Cannot write CSV to '\(path)': \(error.localizedDescription)")
        }
    }
}
