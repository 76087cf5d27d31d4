import AgoraExperiments
import AgoraKernels
import AgoraReports
import ArgumentParser
import Foundation

/// `agora dsgd horizon`: epsilon_hat(T) with and without payments over horizons T.
struct DSGDHorizonCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "horizon",
        abstract:
            "The best gain of a deviating agent (empirical best response over a family) against the horizon T, with payments and without.",
        discussion:
            "The paper claims the gain stays bounded as T grows when payments are on, and grows without them. Each deviation is one counterfactual run to the largest horizon on the same seeds; strategic-agent flags are ignored (the deviators are --deviators)."
    )

    @OptionGroup var options: DSGDOptions
    @Option(help: "Horizons, comma separated.") var horizons: String = "250,500,1000,2000,4000,8000,16000"
    @Option(help: "Agents examined, each deviating alone: a comma list, or 'all'.") var deviators: String = "0"
    @Option(
        help:
            "Deviations: manipulation, all (adds free-riding and under-reporting), equilibrium, or a comma list of inflate:A, fade:A:DECAY, noise:S, best-response[:L], free-ride, misreport:F."
    ) var family: String = "all"
    @Option(help: "Evaluate every K iterations (default: a tenth of the smallest horizon).") var evaluateEvery: Int?
    @Option(help: "Write result.json, horizon.csv, curves.csv and horizon.svg into this folder.") var out: String?
    @Flag(help: "Print the result's summary as one JSON object on stdout.") var json = false

    struct Summary: Codable {
        let horizons: [Int], c0: Double, utility: String
        let epsilonWithPayments: [Double], epsilonWithoutPayments: [Double], reportLoweringWithPayments: [Double]?
        let slopeWithPayments: Double?, slopeWithoutPayments: Double?
        let honestTransferMax: [Double]
        /// The individual-rationality audit per horizon (see `HorizonStudy.Result.irMarginMin`).
        let irMarginMin: [Double]?, irMarginMinWithoutPayments: [Double]?, irObjective: String?
        let runs: Int, seconds: Double
    }

    func run() throws {
        try refusingMPILaunch("dsgd horizon")
        try reportingErrors {
            var e = try options.experiment()
            e.strategic = []
            var study = HorizonStudy()
            study.horizons = try horizons.split(separator: ",").map {
                guard let h = Int($0.trimmingCharacters(in: .whitespaces)) else {
                    throw ValidationError("--horizons: '\($0)' is not an iteration count")
                }
                return h
            }
            study.agents =
                deviators == "all"
                ? Array(0..<e.data.agents)
                : try deviators.split(separator: ",").map {
                    guard let a = Int($0.trimmingCharacters(in: .whitespaces)) else {
                        throw ValidationError("--deviators: '\($0)' is not an agent index")
                    }
                    return a
                }
            study.family = try DeviationFamily(parsing: family)
            study.evaluateEvery = evaluateEvery
            study.calibrate = options.c0 == "auto"
            study.calibrationScope = options.mechanism.calibration ?? .full
            study.pilotHorizon = options.pilot
            e.iterations = study.horizons.max() ?? e.iterations
            if let out { try prepareOutputFolder(out) }
            let progress = Progress(total: 100, label: "horizon")
            let r = try e.horizonStudy(study) { done, total in progress.update(done * 100 / max(1, total)) }
            progress.finish()
            let summary = Summary(
                horizons: r.horizons, c0: r.c0, utility: r.utility.rawValue, epsilonWithPayments: r.epsilonWithPayments,
                epsilonWithoutPayments: r.epsilonWithoutPayments, reportLoweringWithPayments: r.reportLoweringWithPayments,
                slopeWithPayments: r.slopeWithPayments, slopeWithoutPayments: r.slopeWithoutPayments,
                honestTransferMax: r.honestTransferMax, irMarginMin: r.irMarginMin,
                irMarginMinWithoutPayments: r.irMarginMinWithoutPayments, irObjective: r.irObjective, runs: r.runs, seconds: r.seconds)
            if let out { try write(r, summary, to: out) }
            if json {
                print(try JSONOutput.line(summary))
                return
            }
            if let c = r.calibration {
                print(
                    "C_0 = \(fmt(c.c0)) chosen on a \(c.pilotHorizon)-iteration pilot (margin \(c.margin); set by \(c.binding)); myopic bound \(fmt(c.myopicBound))"
                )
                for u in c.undeterrable { print("warning: \(u) gained with no extra payment on the pilot: no C_0 deters it") }
            }
            print(
                "empirical best response of agent(s) \(study.agents.map(String.init).joined(separator: ",")) over \(study.family.deviations.count) deviations; utility: \(r.utility.rawValue); C_0 = \(fmt(r.c0)); \(r.runs) runs in \(String(format: "%.1f", r.seconds)) s"
            )
            print(
                pad("T", 8) + pad("eps, payments on", 18) + pad("best deviation", 34) + pad("eps, payments off", 19)
                    + pad("best deviation", 34) + pad("honest max |P|", 16) + (r.irMarginMin != nil ? pad("IR margin min", 15) : "")
                    + (r.reportLoweringWithPayments != nil ? "report-lowering, on" : ""))
            for k in r.horizons.indices {
                print(
                    pad("\(r.horizons[k])", 8) + pad(fmt(r.epsilonWithPayments[k]), 18) + pad(r.bestWithPayments[k], 34)
                        + pad(fmt(r.epsilonWithoutPayments[k]), 19) + pad(r.bestWithoutPayments[k], 34)
                        + pad(fmt(r.honestTransferMax[k]), 16) + (r.irMarginMin.map { pad(fmt($0[k]), 15) } ?? "")
                        + (r.reportLoweringWithPayments.map { fmt($0[k]) } ?? ""))
            }
            func slope(_ s: Double?) -> String {
                s.map { String(format: "%.2f", $0) } ?? "n/a (epsilon_hat = 0 at all but one horizon at most)"
            }
            print(
                "growth of epsilon_hat (slope of log eps against log T): payments on \(slope(r.slopeWithPayments)), payments off \(slope(r.slopeWithoutPayments))"
            )
            let grows = r.epsilonWithPayments.last! > 2 * max(r.epsilonWithPayments.first!, 1e-12) && (r.slopeWithPayments ?? 0) > 0.2
            print(
                grows
                    ? "finding: with payments the best gain still grows with T on this configuration (the paper's bounded-gain claim fails here)"
                    : "with payments the best gain stays within \(fmt(r.epsilonWithPayments.max()!)) over T = \(r.horizons.first!)...\(r.horizons.last!)"
            )
            if let low = r.reportLoweringWithPayments, low.last! > 0 {
                print(
                    "note: report-lowering deviations (free-riding, under-reporting) gain \(fmt(low.last!)) at T = \(r.horizons.last!) with payments: the rule pays for low reports (reports are trusted)"
                )
            }
            if let on = r.irMarginMin, let off = r.irMarginMinWithoutPayments, let objective = r.irObjective {
                print(
                    "individual rationality (all truthful, \(objective) objective): the smallest margin of utility in the network over training alone is \(fmt(on.last!)) at T = \(r.horizons.last!) (\(fmt(off.last!)) without payments)\(on.last! < 0 ? ": some honest agent would rather train alone" : "")"
                )
            }
            if let out { print("\nresult.json, horizon.csv, curves.csv and horizon.svg written to \(out)") }
        }
    }

    func write(_ r: HorizonStudy.Result, _ s: Summary, to folder: String) throws {
        try JSONOutput.writeExperiment(config: r.config, result: r, summary: s, to: folder)
        var t = CSVTable(columns: [
            "horizon", "epsilon_with_payments", "best_with_payments", "epsilon_without_payments", "best_without_payments",
            "report_lowering_with_payments", "honest_transfer_max", "honest_transfer_per_iteration", "ir_margin_min",
            "ir_margin_min_without_payments",
        ])
        for k in r.horizons.indices {
            t.append([
                "\(r.horizons[k])", "\(r.epsilonWithPayments[k])", CSVTable.field(r.bestWithPayments[k]), "\(r.epsilonWithoutPayments[k])",
                CSVTable.field(r.bestWithoutPayments[k]), CSVTable.field(r.reportLoweringWithPayments?[k]),
                "\(r.honestTransferMax[k])", "\(r.honestTransferPerIteration[k])", CSVTable.field(r.irMarginMin?[k]),
                CSVTable.field(r.irMarginMinWithoutPayments?[k]),
            ])
        }
        try t.write(to: folder + "/horizon.csv")
        var c = CSVTable(columns: ["agent", "deviation", "lowers_report", "horizon", "gain_with_payments", "gain_without_payments"])
        for curve in r.curves {
            for k in r.horizons.indices {
                c.append([
                    "\(curve.agent)", CSVTable.field(curve.behaviour), "\(curve.lowersReport)", "\(r.horizons[k])",
                    "\(curve.withPayments[k])", "\(curve.withoutPayments[k])",
                ])
            }
        }
        try c.write(to: folder + "/curves.csv")
        func series(_ name: String, _ y: [Double], dashed: Bool = false) -> SVGPlot.Series {
            // Log axes cannot show 0 (truthful is best): those horizons are drawn at 1e-8.
            .init(name: name, points: zip(r.horizons, y).map { (log10(Double($0)), max($1, 1e-8)) }, dashed: dashed)
        }
        var all = [
            series("payments on (C_0 = \(fmt(r.c0)))", r.epsilonWithPayments),
            series("payments off", r.epsilonWithoutPayments, dashed: true),
        ]
        if let low = r.reportLoweringWithPayments { all.append(series("report-lowering, payments on", low, dashed: true)) }
        try SVGPlot.write(
            SVGPlot.lines(
                title: "Best gain of a deviation against the horizon (\(r.utility.rawValue) utility)",
                xLabel: "log10 T", yLabel: "epsilon_hat(T)", series: all, logY: true), to: folder + "/horizon.svg")
    }
}

/// `agora dsgd equilibrium`: every agent strategic, with payments and without.
struct DSGDEquilibriumCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "equilibrium",
        abstract: "All agents strategic: iterated best responses with payments and without; the network's accuracy at each outcome.",
        discussion:
            "The paper's experiment: manipulation lowers accuracy, payments restore it. Strategic-agent flags are ignored; each agent chooses from --family."
    )

    @OptionGroup var options: DSGDOptions
    @Option(help: "Deviations each agent may choose (as in `dsgd horizon --family`).") var family: String = "equilibrium"
    @Option(help: "Rounds of best responses at most.") var rounds: Int = 3
    @Option(help: "A deviation is adopted only when it raises the agent's utility by more than this.") var tolerance: Double = 1e-4
    @Option(help: "Write result.json and outcomes.csv into this folder.") var out: String?
    @Flag(help: "Print the result as one JSON object on stdout.") var json = false

    func run() throws {
        try refusingMPILaunch("dsgd equilibrium")
        try reportingErrors {
            var e = try options.experiment()
            e.strategic = []
            var study = EquilibriumStudy()
            study.family = try DeviationFamily(parsing: family)
            study.rounds = rounds
            study.tolerance = tolerance
            try study.validate()
            if let out { try prepareOutputFolder(out) }
            let (calibrated, calibration) = try options.calibrated(e, horizon: e.iterations, quiet: json, defaultScope: .full)
            let progress = Progress(total: 1, label: "equilibrium runs")
            let r = try calibrated.equilibrium(study, calibration: calibration) { k in
                if progress.enabled { FileHandle.standardError.write(Data("\requilibrium: \(k) runs".utf8)) }
            }
            progress.finish()
            if let out {
                try JSONOutput.writeExperiment(config: r.config, result: r, summary: r.withPayments, to: out)
                var t = CSVTable(columns: [
                    "outcome", "deviators", "converged", "rounds", "gap", "accuracy", "test_accuracy", "consensus_error", "profile",
                ])
                for (name, o) in [("all-truthful", r.allTruthful), ("payments", r.withPayments), ("no-payments", r.withoutPayments)] {
                    t.append([
                        name, "\(o.deviators)", "\(o.converged)", "\(o.rounds)", "\(o.gap)", CSVTable.field(o.accuracy),
                        CSVTable.field(o.testAccuracy), "\(o.consensusError)", CSVTable.field(o.profile.joined(separator: "; ")),
                    ])
                }
                try t.write(to: out + "/outcomes.csv")
            }
            if json {
                print(try JSONOutput.line(r))
                return
            }
            print(
                "all agents strategic over {truthful, \(study.family.deviations.map(\.description).joined(separator: ", "))}; utility: \(r.utility.rawValue); C_0 = \(fmt(r.c0)); \(r.runs) runs in \(String(format: "%.1f", r.seconds)) s"
            )
            print(
                pad("", 18) + pad("deviators", 11) + pad("converged", 11) + pad("optimality gap", 16) + pad("accuracy", 10)
                    + pad("test accuracy", 14) + "max |payment|")
            for (name, o) in [("all truthful", r.allTruthful), ("payments on", r.withPayments), ("payments off", r.withoutPayments)] {
                print(
                    pad(name, 18) + pad("\(o.deviators)/\(o.profile.count)", 11)
                        + pad(o.rounds == 0 ? "-" : "\(o.converged) (\(o.rounds))", 11)
                        + pad(fmt(o.gap), 16) + pad(o.accuracy.map { String(format: "%.4f", $0) } ?? "-", 10)
                        + pad(o.testAccuracy.map { String(format: "%.4f", $0) } ?? "-", 14) + fmt(o.payments.map(abs).max() ?? 0))
            }
            for (name, o) in [("payments on", r.withPayments), ("payments off", r.withoutPayments)] where o.deviators > 0 {
                var groups: [String: [Int]] = [:]
                for (i, b) in o.profile.enumerated() where b != "truthful" { groups[b, default: []].append(i) }
                print(
                    "\(name): "
                        + groups.sorted { $0.key < $1.key }.map {
                            "\($0.key) by agents \($0.value.map(String.init).joined(separator: ","))"
                        }.joined(separator: "; "))
            }
            if let out { print("\nresult.json and outcomes.csv written to \(out)") }
        }
    }
}
