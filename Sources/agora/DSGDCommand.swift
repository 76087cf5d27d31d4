import AgoraExperiments
import AgoraKernels
import AgoraLearning
import AgoraMechanisms
import AgoraReports
import AgoraTopology
import ArgumentParser
import Foundation

struct DSGDCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dsgd",
        abstract: "Truthful decentralized SGD: runs with strategic agents, the best gain against the horizon, all agents strategic.",
        discussion: "`agora dsgd [options]` is `agora dsgd run [options]`: its options are listed by `agora dsgd run --help`.",
        subcommands: [DSGDRunCommand.self, DSGDHorizonCommand.self, DSGDEquilibriumCommand.self],
        defaultSubcommand: DSGDRunCommand.self)
}

struct DSGDRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "One experiment: payments on vs off, strategic agents and their cumulative gains against the same run with them truthful."
    )

    @OptionGroup var options: DSGDOptions
    @OptionGroup var backendOptions: BackendOptions

    @Option(
        help:
            "Evaluate every K iterations (default: iterations / 20, about 21 points per run; iterations / 100 under --utility average|cumulative, which integrate over the points). Each evaluation passes over all data twice (every agent's loss and the network average's), as much as ~10 iterations: fewer evaluations, faster runs, the same final numbers."
    ) var evaluateEvery: Int?
    @Option(help: "Write result.json, config.json, per-run CSV files and SVG plots into this folder.") var out: String?
    @Flag(help: "Print the final summary as one JSON object on stdout.") var json = false
    @Option(help: "Write a checkpoint (atomically) every K iterations of every run to OUT/checkpoint.json (needs --out).")
    var checkpointEvery: Int?
    @Option(help: "With --checkpoint-every: stop at the first checkpoint after this many iterations (for jobs with a time limit).")
    var stopAfter: Int?
    @Option(
        help:
            "Continue the experiment saved in this checkpoint file (its config is used; experiment flags given must describe the same experiment). The result equals the uninterrupted run bit for bit."
    ) var resume: String?

    struct Summary: Codable {
        struct AgentGain: Codable {
            let agent: Int
            let behaviour: String
            let gainWithPayments: Double
            let gainWithoutPayments: Double
        }
        let agents: Int, iterations: Int, fStar: Double
        /// The payment coefficient C_0 the run used (chosen by calibration unless --c0 VALUE; how it
        /// was chosen is printed and, with --out, written to calibration.json).
        let c0: Double
        let finalGapWithPayments: Double, finalGapWithoutPayments: Double
        let consensusErrorWithPayments: Double
        let maxBudgetResidual: Double
        /// Largest |cumulative payment| of any agent in the all-truthful run (the configured run
        /// when it has no deviators), and that divided by the iterations.
        let honestTransferMax: Double
        let honestTransferPerIteration: Double
        let strategic: [AgentGain]
        /// The individual-rationality audit: the smallest margin over honest agents of utility in
        /// the network minus utility training alone (nil when every agent is strategic), and how
        /// many honest agents are below zero.
        let irMarginMin: Double?
        let irMarginMinWithoutPayments: Double?
        let irAgentsBelowZero: Int
        let warnings: [String]
        /// `Kernels.bitDigest` of the final parameters of the run with payments (compare runs,
        /// e.g. in process against MPI, without writing parameters out).
        let parametersDigest: String?
        let secondsPerIteration: Double
        /// Set-up, iterations and evaluations in seconds (timings, like secondsPerIteration).
        let timing: DSGDExperiment.Timing?
    }

    /// The options of this command that do not describe the experiment (where and how it runs).
    static let runFlags: Set<String> = ["--out", "--json", "--checkpoint-every", "--stop-after", "--resume", "--backend"]

    /// The experiment flags (`--name` or `--name=value`) among `arguments`: every option except the
    /// run flags and the subcommand words.
    static func experimentFlagsGiven(in arguments: [String]) -> [String] {
        arguments.compactMap { a -> String? in
            guard a.hasPrefix("--"), a != "--" else { return nil }
            let name = String(a.split(separator: "=", maxSplits: 1)[0])
            return runFlags.contains(name) ? nil : name
        }
    }

    func run() throws {
        try reportingErrors {
            let checkpoint = try resume.map { try DSGDExperiment.Checkpoint.read(path: $0) }
            if let k = evaluateEvery, k < 1 { throw ValidationError("--evaluate-every must be at least 1, got \(k)") }
            // The experiment the flags describe: the options plus this command's evaluation grid.
            // With --c0 auto the calibrated C_0 is the checkpoint's: compare everything else.
            func described() throws -> DSGDExperiment {
                var e = try options.experiment()
                if let k = evaluateEvery { e.evaluateEvery = k }
                if options.c0 == "auto", let c = checkpoint?.config.mechanism.payments?.coefficient.initial { e = e.withCoefficient(c) }
                return e
            }
            var e = try checkpoint?.config ?? described()
            // Under MPI every rank runs this command; only the root prints and writes.
            let (exchange, reports) = try backendOptions.make(
                topology: e.topology, weights: e.weights, agents: e.data.agents, seed: e.seed, strategy: e.mixStrategy ?? .auto)
            var calibration: DSGDExperiment.Calibration? = nil
            // Every rank calibrates (the same C_0 everywhere); an error on one ends them all.
            if checkpoint == nil {
                (e, calibration) = try endingAllRanksOnError { try options.calibrated(e, horizon: e.iterations, quiet: json || !reports) }
            }
            if let checkpoint {
                // Flags (or --config) that describe an experiment must describe the checkpoint's.
                // Any experiment flag given counts, even one equal to its default (`--iterations
                // 1000` must not be dropped silently when the checkpoint's run has 60).
                // (The default C_0 is chosen by calibration: the checkpoint's stands in for it.)
                var defaults = try DSGDOptions.parse([]).experiment()
                if let c = checkpoint.config.mechanism.payments?.coefficient.initial { defaults = defaults.withCoefficient(c) }
                let given = try described()
                let flagged = Self.experimentFlagsGiven(in: Array(CommandLine.arguments.dropFirst()))
                if (given != defaults || !flagged.isEmpty) && given != checkpoint.config {
                    throw CLIError(
                        "\(resume!) belongs to a different experiment than the one the flags describe"
                            + (flagged.isEmpty ? "" : " (\(flagged.joined(separator: ", ")))")
                            + "; resume with no experiment flags (the checkpoint holds its configuration) or with the same ones"
                    )
                }
            }
            if let k = checkpointEvery {
                guard k >= 1 else { throw ValidationError("--checkpoint-every must be at least 1, got \(k)") }
                guard out != nil else {
                    throw ValidationError("--checkpoint-every needs --out (the checkpoint goes to OUT/checkpoint.json)")
                }
            }
            if let out, reports { try prepareOutputFolder(out) }
            if stopAfter != nil && checkpointEvery == nil { throw ValidationError("--stop-after needs --checkpoint-every") }
            let policy = checkpointEvery.map {
                DSGDExperiment.CheckpointPolicy(path: out! + "/checkpoint.json", every: $0, stopAfter: stopAfter)
            }
            let progress = Progress(total: reports ? 100 : 0, label: "dsgd")
            let started = Date()
            // A planned stop (--stop-after) happens on every rank at the same iteration: not an error.
            var stopped: DSGDExperiment.Stopped? = nil
            let outcome: DSGDExperiment.Result? = try endingAllRanksOnError {
                do {
                    return try e.run(
                        progress: { done, total in progress.update(done * 100 / max(1, total)) }, checkpoints: policy, resume: checkpoint,
                        referenceProgress: { k, gn in
                            // Wide data: the reference solve takes a while; say so once it has taken a second.
                            guard reports, Date().timeIntervalSince(started) > 1 else { return }
                            FileHandle.standardError.write(
                                Data(String(format: "reference solve (f*): Newton iteration %d, gradient norm %.3e\n", k, gn).utf8))
                        }, exchange: exchange)
                } catch let s as DSGDExperiment.Stopped {
                    stopped = s
                    return nil
                }
            }
            progress.finish()
            guard reports else { return }
            if let s = stopped {
                print("stopped after \(s.iterations) iterations; continue with --resume \(s.checkpoint)")
                return
            }
            guard let r = outcome else { return }
            let pay = try r.requiredRun(.payments), off = try r.requiredRun(.noPayments)
            // Payments change incentives, not the updates: `off` moves exactly like `pay`.
            // Honest transfers: what truthful agents pay each other when nobody deviates.
            let honestRun = r.run(.allTruthful) ?? pay
            let honestMax = honestRun.points.last!.cumulativePayments.map(abs).max() ?? 0
            let summary = Summary(
                agents: e.data.agents, iterations: e.iterations, fStar: r.fStar,
                c0: e.mechanism.payments?.coefficient.initial ?? 0,
                finalGapWithPayments: pay.points.last!.optimalityGap, finalGapWithoutPayments: off.points.last!.optimalityGap,
                consensusErrorWithPayments: pay.points.last!.consensusError,
                maxBudgetResidual: pay.points.map(\.budgetResidual).max() ?? 0,
                honestTransferMax: honestMax, honestTransferPerIteration: honestMax / Double(e.iterations),
                strategic: r.gains.map {
                    .init(
                        agent: $0.agent, behaviour: $0.behaviour, gainWithPayments: $0.withPayments.last!,
                        gainWithoutPayments: $0.withoutPayments.last!)
                },
                irMarginMin: r.individualRationality?.marginMin,
                irMarginMinWithoutPayments: r.individualRationality?.marginMinWithoutPayments,
                irAgentsBelowZero: r.individualRationality?.agentsBelowZero.count ?? 0,
                warnings: r.warnings, parametersDigest: pay.points.last!.parametersDigest,
                secondsPerIteration: r.secondsPerIteration, timing: r.timing)
            if let out {
                try write(r, summary, to: out)
                if let calibration { try JSONOutput.write(calibration, to: out + "/calibration.json") }
            }
            if json {
                print(try JSONOutput.line(summary))
                return
            }
            for w in r.warnings { print("warning: \(w)") }
            let source = e.dataFile.map { "\($0.path) (\($0.partition))" } ?? "synthetic data (heterogeneity \(e.data.heterogeneity))"
            print(
                "truthful DSGD: \(e.data.agents) agents, \(e.topology), \(e.data.loss.rawValue) regression on \(source), \(e.iterations) iterations"
            )
            print(String(format: "f* = %.6f (Newton reference); %.1f us per iteration", r.fStar, r.secondsPerIteration * 1e6))
            if let t = r.timing {
                print(
                    String(
                        format: "time: set-up %.2f s, %d iterations %.2f s, %d evaluations %.2f s", t.setupSeconds, t.simulatedIterations,
                        t.loopSeconds, t.evaluations, t.evaluationSeconds))
            }
            if let b = e.mechanism.gainBound(
                gradientBound: 1,
                degree: e.topology.isTimeVarying ? 1 : (try? e.topology.graph(agents: e.data.agents, seed: e.seed).degrees.min() ?? 1) ?? 1,
                iterations: e.iterations)
            {
                print(
                    String(
                        format:
                            "one-step gain bound lambda_t^2 G^2 / (4 C_t d) at G = 1, smallest degree: first step %.3g, summed over the run %.3g (2v - u = %.2f)",
                        b.first, b.cumulative, 2 * e.mechanism.stepSize.exponent - (e.mechanism.payments?.coefficient.exponent ?? 0)))
            }
            print("")
            // Payments change incentives, not the updates: with deviators present both runs move
            // identically; "all truthful" is what the deterrence buys.
            let honest = r.run(.allTruthful) ?? pay
            print(pad("", 26) + pad("with deviators", 16) + pad("all truthful", 16))
            print(pad("optimality gap", 26) + pad(fmt(summary.finalGapWithPayments), 16) + pad(fmt(honest.points.last!.optimalityGap), 16))
            print(
                pad("consensus error", 26) + pad(fmt(pay.points.last!.consensusError), 16)
                    + pad(fmt(honest.points.last!.consensusError), 16))
            if let a = pay.points.last!.accuracy, let b = honest.points.last!.accuracy {
                print(pad("accuracy of the average", 26) + pad(String(format: "%.4f", a), 16) + pad(String(format: "%.4f", b), 16))
            }
            if let a = pay.points.last!.testAccuracy, let b = honest.points.last!.testAccuracy {
                print(pad("test accuracy", 26) + pad(String(format: "%.4f", a), 16) + pad(String(format: "%.4f", b), 16))
            }
            print(pad("max budget residual", 26) + pad(fmt(summary.maxBudgetResidual), 16) + pad("-", 16))
            print(pad("largest honest transfer", 26) + pad("-", 16) + pad(fmt(honestMax), 16))
            if let ir = r.individualRationality, let m = ir.marginMin {
                let worst = ir.margins.firstIndex(of: m).map { " (agent \($0))" } ?? ""
                print(
                    "individual rationality: honest agents' utility in the network minus training alone: smallest \(fmt(m))\(worst); \(ir.agentsBelowZero.count) of \(ir.margins.compactMap { $0 }.count) below zero; without payments the smallest is \(fmt(ir.marginMinWithoutPayments ?? .nan))"
                )
            }
            if !r.gains.isEmpty {
                print("")
                print(pad("strategic agent", 18) + pad("behaviour", 24) + pad("gain, payments on", 20) + pad("gain, payments off", 20))
                for g in r.gains {
                    print(
                        pad("\(g.agent)", 18) + pad(g.behaviour, 24) + pad(fmt(g.withPayments.last!), 20)
                            + pad(fmt(g.withoutPayments.last!), 20))
                }
                print(
                    "(gain = utility minus the utility in the same run with that agent truthful; utility = -f_i(theta_i) - cumulative payments)"
                )
            }
            if let out { print("\nresults, config, CSV and plots written to \(out)") }
        }
    }

    func write(_ r: DSGDExperiment.Result, _ s: Summary, to folder: String) throws {
        try JSONOutput.writeExperiment(config: r.config, result: r, summary: s, to: folder)
        var csv = CSVTable(columns: [
            "run", "iteration", "optimality_gap", "distance", "consensus_error", "budget_residual", "accuracy", "test_accuracy",
        ])
        var jsonl = ""
        for run in r.runs {
            for p in run.points {
                csv.append([
                    CSVTable.field(run.label), "\(p.iteration)", "\(p.optimalityGap)", "\(p.distance)", "\(p.consensusError)",
                    "\(p.budgetResidual)", CSVTable.field(p.accuracy), CSVTable.field(p.testAccuracy),
                ])
                struct L: Codable {
                    let run: String
                    let point: DSGDExperiment.Point
                }
                jsonl += try JSONOutput.line(L(run: run.label, point: p)) + "\n"
            }
        }
        try csv.write(to: folder + "/metrics.csv")
        try SystemFile.writeAtomically(jsonl, to: folder + "/metrics.jsonl")
        var gains = CSVTable(columns: ["agent", "behaviour", "iteration", "gain_with_payments", "gain_without_payments"])
        for g in r.gains {
            for k in g.iterations.indices {
                gains.append([
                    "\(g.agent)", CSVTable.field(g.behaviour), "\(g.iterations[k])", "\(g.withPayments[k])", "\(g.withoutPayments[k])",
                ])
            }
        }
        try gains.write(to: folder + "/gains.csv")
        if let ir = r.individualRationality {
            var t = CSVTable(columns: ["agent", "margin", "alone_reward"])
            for i in ir.margins.indices {
                t.append(["\(i)", CSVTable.field(ir.margins[i]), "\(ir.aloneRewards[i])"])
            }
            try t.write(to: folder + "/ir.csv")
            try SVGPlot.write(
                SVGPlot.lines(
                    title: "Individual rationality: smallest honest margin (network minus alone)", xLabel: "iteration",
                    yLabel: "utility in the network - utility alone",
                    series: [
                        .init(name: "smallest margin", points: zip(ir.iterations, ir.minimumMargins).map { (Double($0), $1) }),
                        .init(
                            name: "zero", points: [(Double(ir.iterations.first ?? 0), 0), (Double(ir.iterations.last ?? 0), 0)],
                            dashed: true),
                    ]), to: folder + "/ir.svg")
        }
        // The configured run and, with deviators, the all-truthful one, each under its plot name.
        let main = [("with deviators", r.run(.payments)), ("all truthful", r.run(.allTruthful))].compactMap { name, run in
            run.map { (name, $0) }
        }
        func plot(_ title: String, _ yLabel: String, _ file: String, _ value: (DSGDExperiment.Point) -> Double) throws {
            let series = main.map { name, run in SVGPlot.Series(name: name, points: run.points.map { (Double($0.iteration), value($0)) }) }
            try SVGPlot.write(
                SVGPlot.lines(title: title, xLabel: "iteration", yLabel: yLabel, series: series, logY: true), to: folder + "/" + file)
        }
        try plot("Optimality gap f(theta_bar) - f*", "gap", "gap.svg") { $0.optimalityGap }
        try plot("Consensus error", "sum_i ||theta_i - theta_bar||^2", "consensus.svg") { $0.consensusError }
        var gs: [SVGPlot.Series] = []
        for g in r.gains {
            gs.append(.init(name: "agent \(g.agent) (\(g.behaviour))", points: zip(g.iterations, g.withPayments).map { (Double($0), $1) }))
            gs.append(
                .init(
                    name: "agent \(g.agent), payments off", points: zip(g.iterations, g.withoutPayments).map { (Double($0), $1) },
                    dashed: true))
        }
        if !gs.isEmpty {
            try SVGPlot.write(
                SVGPlot.lines(
                    title: "Cumulative gain of strategic agents", xLabel: "iteration", yLabel: "utility - truthful utility", series: gs),
                to: folder + "/gains.svg")
        }
    }
}
