import AgoraExperiments
import AgoraLearning
import AgoraReports
import ArgumentParser
import Foundation

/// `agora market reproduce`: the paper's market experiments on the data available here.
struct MarketReproduceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reproduce",
        abstract:
            "The paper's market experiments on MNIST, digits and a9a (partitions, robustness, liars, inclusive), the defaults' acceptance grid (acceptance: a9a, mushrooms, MNIST, digits x 3 partitions x 3 seeds) and the collaborative-gain grid (gain: every method, 4 partitions, 3 seeds), or all; each writes CSV + SVG and checks its claims cell by cell."
    )

    @Argument(help: "The experiment to run, or all of them.") var experiment: ReproductionChoice = .all
    @Option(help: "Rounds per market run (the paper: 50).") var rounds: Int = 20
    @Option(help: "Seed for every random choice.") var seed: UInt64 = 1
    @Option(
        help:
            "acceptance and gain: their data sets, comma separated: named sets or data files (LIBSVM, IDX, CSV with the label last) (default a9a,mushrooms,mnist,digits)."
    ) var dataSets: String?
    @Option(help: "acceptance and gain: seeds per cell, from --seed on (default \(MarketReproduction.acceptanceSeeds)).") var seeds: Int?
    @Option(help: "acceptance only: the pilot's scope (default: market; client reproduces the per-client column of docs/market.md).")
    var pilotScope: MarketExperiment.ProxPilot.Scope?
    @Option(
        help:
            "acceptance and gain: run every cell from this market experiment (a config.json of `agora market run --out`, e.g. with --K 5e5 --purchase-check off); its data, seed, rounds and methods are set per cell."
    ) var baseConfig: String?
    @Option(help: "Write NAME.csv, NAME-checks.csv, NAME.svg and NAME.json per experiment into this folder.") var out: String?
    @Flag(help: "Print the reports as JSON lines on stdout.") var json = false

    func run() throws {
        try refusingMPILaunch("market reproduce")
        try reportingErrors {
            let chosen = experiment.experiments
            guard rounds >= 1 else { throw ValidationError("--rounds must be at least 1, got \(rounds)") }
            if dataSets != nil || seeds != nil || baseConfig != nil, !chosen.contains(.acceptance), !chosen.contains(.gain) {
                throw ValidationError("--data-sets, --seeds and --base-config apply to the acceptance and gain experiments only")
            }
            let base = try baseConfig.map { try loadJSONConfig($0, as: MarketExperiment.self, what: "market experiment") }
            if pilotScope != nil, !chosen.contains(.acceptance) {
                throw ValidationError("--pilot-scope applies to the acceptance experiment only")
            }
            let scope = pilotScope
            let sets = dataSets.map {
                $0.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            }
            if let out { try prepareOutputFolder(out) }
            let resolver: MarketReproduction.DataResolver = { name, scheme in
                try resolveDataFile(name, format: nil, features: 0, partition: scheme.description)
            }
            var failures = 0
            for e in chosen {
                let progress = Progress(total: 1, label: "reproduce \(e.rawValue)")
                let r = try e.run(
                    data: resolver, rounds: rounds, seed: seed, sets: sets, seeds: seeds ?? MarketReproduction.acceptanceSeeds,
                    pilotScope: scope, base: base
                ) { cell in
                    if progress.enabled { FileHandle.standardError.write(Data("\r\u{1B}[Kreproduce \(e.rawValue): \(cell)".utf8)) }
                }
                progress.finish()
                failures += r.checks.filter { !$0.holds }.count
                if let out { try write(r, to: out) }
                if json {
                    print(try JSONOutput.line(r))
                    continue
                }
                print(
                    "== \(r.name) (\(String(format: "%.1f", r.seconds)) s): \(r.checks.filter(\.holds).count) of \(r.checks.count) checks hold"
                )
                for c in r.checks {
                    print("  " + (c.holds ? "holds " : "FAILS ") + pad(c.cell, 34) + pad(c.claim, 66) + c.detail)
                }
                print("")
            }
            if !json {
                print(
                    failures == 0
                        ? "every claim checked holds on this data"
                        : "\(failures) claim(s) fail on this data (reported, not hidden; see docs/market.md)")
                if let out { print("tables, checks, plots and JSON in \(out)") }
            }
        }
    }

    func write(_ r: MarketReproduction.Report, to folder: String) throws {
        var t = CSVTable(columns: r.columns)
        for row in r.rows { t.append(row.map { CSVTable.field($0) }) }
        try t.write(to: folder + "/\(r.name).csv")
        var c = CSVTable(columns: ["cell", "claim", "holds", "detail"])
        for k in r.checks { c.append([CSVTable.field(k.cell), CSVTable.field(k.claim), "\(k.holds)", CSVTable.field(k.detail)]) }
        try c.write(to: folder + "/\(r.name)-checks.csv")
        try JSONOutput.write(r, to: folder + "/\(r.name).json")
        let series = r.series.keys.sorted().map { name in SVGPlot.Series(name: name, points: r.series[name]!.map { ($0[0], $0[1]) }) }
        try SVGPlot.write(
            SVGPlot.lines(title: r.plotTitle, xLabel: r.plotXLabel, yLabel: r.plotYLabel, series: series), to: folder + "/\(r.name).svg")
    }
}
