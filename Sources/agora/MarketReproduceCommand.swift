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
            "The paper's market experiments on MNIST, digits and a9a (partitions, robustness, liars, inclusive), the defaults' acceptance grid (acceptance: a9a, mushrooms, MNIST, digits x 3 partitions x 3 seeds), the collaborative-gain grid (gain: every method, 4 partitions, 3 seeds), or all; each writes CSV + SVG and checks its claims cell by cell."
    )

    @Argument(help: "The experiment to run, or all of them.") var experiment: ReproductionChoice = .all
    @Option(help: "Rounds per market run (default 20; figure2: 50, the paper's).") var rounds: Int?
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
    @Option(help: "figure2: the image data set, named (mnist) or an IDX image file.") var data: String = "mnist"
    @Option(help: "figure2: the network (default: simplecnn-mnist for 28 x 28 images, simplecnn for 3 x 32 x 32).") var model:
        NetworkPreset?
    @Option(
        parsing: .upToNextOption,
        help:
            "figure2: the partitions to run, of niid (Dirichlet 0.1, 10 clients), cluster (3 groups, 9 clients), skew (2 groups, 10 clients)."
    )
    var partitions: [MarketReproduction.FigurePartition] = MarketReproduction.FigurePartition.allCases
    @Option(help: "figure2: local SGD steps per round (the reference: 200).") var localSteps: Int = 200
    @Option(help: "Write NAME.csv, NAME-checks.csv, NAME.svg and NAME.json per experiment into this folder.") var out: String?
    @Flag(help: "Print the reports as JSON lines on stdout.") var json = false

    func run() throws {
        try refusingMPILaunch("market reproduce")
        try reportingErrors {
            let chosen = experiment.experiments
            if let rounds, rounds < 1 { throw ValidationError("--rounds must be at least 1, got \(rounds)") }
            if dataSets != nil || seeds != nil, !chosen.contains(.acceptance), !chosen.contains(.gain) {
                throw ValidationError("--data-sets and --seeds apply to the acceptance and gain experiments only")
            }
            if baseConfig != nil, !chosen.contains(.acceptance), !chosen.contains(.gain), !chosen.contains(.figure2) {
                throw ValidationError("--base-config applies to the acceptance, gain and figure2 experiments only")
            }
            if !chosen.contains(.figure2),
                model != nil || data != "mnist" || localSteps != 200 || partitions != MarketReproduction.FigurePartition.allCases
            {
                throw ValidationError("--data, --model, --partitions and --local-steps apply to figure2 only")
            }
            guard localSteps >= 1 else { throw ValidationError("--local-steps must be at least 1, got \(localSteps)") }
            guard !partitions.isEmpty else { throw ValidationError("--partitions needs at least one of niid, cluster, skew") }
            var figure = MarketReproduction.Figure()
            figure.data = data
            figure.network = model
            figure.partitions = partitions
            figure.localSteps = localSteps
            figure.rounds = rounds ?? 50
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
                    data: resolver, rounds: rounds ?? 20, seed: seed, sets: sets, seeds: seeds ?? MarketReproduction.acceptanceSeeds,
                    pilotScope: scope, base: base, figure: figure
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
