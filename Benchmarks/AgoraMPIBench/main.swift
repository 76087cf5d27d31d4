import AgoraBenchCore
import AgoraDistributed
import AgoraExperiments
import AgoraKernels
import AgoraLearning
import AgoraReports
import AgoraTopology
import Foundation

// AgoraMPIBench: the MPI back-end against its transport's bound, measured in the same run.
//
//   mpirun --bind-to none -np P AgoraMPIBench [--quick] [--out DIR]   writes DIR/mpi-np<P>.json
//   AgoraMPIBench --merge DIR                                          writes DIR/mpi-bench.json,
//                                                                      mpi-bench.csv, plots/mpi-*.svg
//
// Per rank count P: an MPI ping-pong between ranks 0 and 1 (latency at 8 B, bandwidth at 4 MiB:
// the bound), the neighbour exchange alone (`MPIExchange.exchangeRows`) against that bound
// (latency + the most bytes any rank receives / ping-pong bandwidth), the mix step (exchange +
// sparse mix) and a truthful-DSGD iteration, each at a fixed size (strong scaling) and at a size
// growing with P (weak scaling). Times are the slowest rank's, median of several repetitions.
// `make bench-mpi` runs P = 1, 2, 4 and merges. Nothing here is a pass/fail gate.

#if MPI
struct MPIBench {
    let quick: Bool
    let outDir: String
    let rank: Int, ranks: Int
    var records: [Record] = []

    init(options: CommandLineOptions) throws {
        quick = options.has("--quick")
        outDir = options.value("--out") ?? "bench-results/mpi"
        (rank, ranks) = try MPIRuntime.start()
    }

    func say(_ s: String) { if rank == 0 { print(s) } }

    /// Median, min and max over `repetitions` of the slowest rank's seconds per call of `body`
    /// (`inner` calls per repetition, every rank starting together after a barrier).
    func time(repetitions: Int = 7, inner: Int, _ body: () throws -> Void) throws -> (Double, Double, Double) {
        try body()  // warm-up (buffers, datatypes, caches)
        var t: [Double] = []
        for _ in 0..<repetitions {
            try MPIRuntime.barrier()
            let s = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<inner { try body() }
            t.append(try MPIRuntime.maximum(Double(DispatchTime.now().uptimeNanoseconds - s) * 1e-9 / Double(inner)))
        }
        t.sort()
        return (t[t.count / 2], t.first!, t.last!)
    }

    mutating func record(
        _ name: String, _ t: (Double, Double, Double), inner: Int, bytes: Double? = nil, bound: Double? = nil, boundLabel: String? = nil
    ) {
        var r = Record(
            name: name + "/np=\(ranks)", repetitions: 7, iterations: inner, medianSeconds: t.0, minSeconds: t.1, maxSeconds: t.2,
            threads: ThreadPool.shared.threads)
        r.bytes = bytes.flatMap { $0 > 0 ? $0 : nil }  // one rank: nothing crosses ranks
        if let b = r.bytes { r.gb_per_s = b / t.0 / 1e9 }
        if let bound {
            r.fraction_of_bound = bound / t.0
            r.bound = boundLabel
        }
        records.append(r)
        var line = (name + "/np=\(ranks)").padding(toLength: 58, withPad: " ", startingAt: 0) + String(format: "%10.2f us", t.0 * 1e6)
        if let g = r.gb_per_s { line += String(format: "  %7.3f GB/s", g) }
        if let f = r.fraction_of_bound { line += String(format: "  %5.1f%% of bound (%@)", 100 * f, boundLabel ?? "") }
        say(line)
    }

    mutating func run() throws {
        say("AgoraMPIBench: \(ranks) rank(s), \(ThreadPool.shared.threads) Agora thread(s) per rank; OpenBLAS \(OpenBLAS.coreName)")
        // 1. The transport's bound.
        let latency = try MPIRuntime.pingPong(bytes: 8, repetitions: quick ? 50 : 200)
        let big = 4 << 20
        let bigTime = try MPIRuntime.pingPong(bytes: big, repetitions: quick ? 5 : 20)
        let bandwidth = bigTime > 0 ? Double(big) / bigTime : 0
        if ranks >= 2 {
            record("mpi/pingpong/bytes=8", (latency, latency, latency), inner: 1)
            record("mpi/pingpong/bytes=\(big)", (bigTime, bigTime, bigTime), inner: 1, bytes: Double(big))
        } else {
            say("(one rank: no ping-pong, no transport bound)")
        }
        let n = quick ? 64 : 256, d = quick ? 256 : 1000
        // 2. The neighbour exchange against the bound, 3. the mix step (strong and weak scaling).
        for topology in [Topology.ring, .exponential] {
            let ex = try MPIExchange(topology: topology, weights: .metropolis, agents: n, seed: 1, strategy: .sparse)
            var rng = SeededGenerator(seed: 1, stream: UInt64(rank))
            let x: Matrix<Float> = rng.normalMatrix(rows: ex.localAgents.count, cols: d)
            let received = try MPIRuntime.maximum(Double(ex.receivedRows(iteration: 0) * d * 4))
            let inner = quick ? 20 : 100
            if ranks >= 2 {
                let bound = latency + received / max(bandwidth, 1)
                record(
                    "mpi/exchange/\(topology)/n=\(n)/d=\(d)", try time(inner: inner) { try ex.exchangeRows(iteration: 0, parameters: x) },
                    inner: inner, bytes: received, bound: bound, boundLabel: "ping-pong latency + bytes / bandwidth")
            }
            var y = Matrix<Float>(rows: x.rows, cols: d), m = Matrix<Float>(rows: x.rows, cols: d)
            let lr = [Float](repeating: 0, count: x.rows)
            record(
                "mpi/mix/\(topology)/n=\(n)/d=\(d)",
                try time(inner: inner) {
                    try ex.mixStep(iteration: 0, parameters: x, stepSizes: lr, directions: m, into: &y)
                }, inner: inner, bytes: received)
            let nw = (quick ? 16 : 64) * ranks
            let weak = try MPIExchange(topology: topology, weights: .metropolis, agents: nw, seed: 1, strategy: .sparse)
            let xw: Matrix<Float> = rng.normalMatrix(rows: weak.localAgents.count, cols: d)
            var yw = Matrix<Float>(rows: xw.rows, cols: d), mw = Matrix<Float>(rows: xw.rows, cols: d)
            let lrw = [Float](repeating: 0, count: xw.rows)
            record(
                "mpi/mix-weak/\(topology)/n=\(quick ? 16 : 64)P/d=\(d)",
                try time(inner: inner) {
                    try weak.mixStep(iteration: 0, parameters: xw, stepSizes: lrw, directions: mw, into: &yw)
                }, inner: inner)
            if ranks == 1 {
                // The in-process exchange on the same input (what MPI at one rank costs on top).
                let local = try InProcessExchange(topology: topology, weights: .metropolis, agents: n, seed: 1, strategy: .sparse)
                record(
                    "mpi/mix-inprocess/\(topology)/n=\(n)/d=\(d)",
                    try time(inner: inner) {
                        try local.mixStep(iteration: 0, parameters: x, stepSizes: lr, directions: m, into: &y)
                    }, inner: inner)
            }
        }
        // 4. One truthful-DSGD iteration (gradients, behaviours, mix, payments), strong and weak.
        for (label, agents) in [
            ("dsgd/n=\(quick ? 16 : 32)", quick ? 16 : 32), ("dsgd-weak/n=\(quick ? 8 : 16)P", (quick ? 8 : 16) * ranks),
        ] {
            var e = DSGDExperiment()
            e.data.agents = agents
            e.topology = .exponential
            e.iterations = quick ? 40 : 200
            e.evaluateEvery = e.iterations
            e.mixStrategy = .sparse
            let ex = try MPIExchange(
                topology: e.topology, weights: e.weights, agents: agents, seed: e.seed, strategy: e.mixStrategy ?? .auto)
            var samples: [Double] = []
            for _ in 0..<(quick ? 3 : 5) {
                try MPIRuntime.barrier()
                samples.append(try MPIRuntime.maximum(try e.run(exchange: ex).secondsPerIteration))
            }
            samples.sort()
            record(
                "mpi/\(label)/features=\(e.data.features)", (samples[samples.count / 2], samples.first!, samples.last!), inner: e.iterations
            )
        }
        if rank == 0 {
            try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
            let ctx = Context.current(
                executable: CommandLine.arguments[0], openblasConfig: OpenBLAS.config, openblasCoreName: OpenBLAS.coreName,
                threads: ThreadPool.shared.threads, quick: quick)
            try JSONOutput.write(Output(context: ctx, benchmarks: records), to: outDir + "/mpi-np\(ranks).json")
            print("wrote \(outDir)/mpi-np\(ranks).json")
        }
    }
}
#endif

/// Merges mpi-np*.json of one folder into mpi-bench.json, mpi-bench.csv and scaling plots.
func merge(_ dir: String) throws {
    let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("mpi-np") && $0.hasSuffix(".json") }.sorted()
    guard !files.isEmpty else {
        print("no mpi-np*.json in \(dir): run the benchmark under mpirun first (make bench-mpi)")
        exit(2)
    }
    var outputs: [Output] = []
    for f in files {
        guard let data = FileManager.default.contents(atPath: dir + "/" + f) else { continue }
        outputs.append(try JSONOutput.decoder().decode(Output.self, from: data))
    }
    let all = outputs.flatMap(\.benchmarks)
    try JSONOutput.write(Output(context: outputs[0].context, benchmarks: all), to: dir + "/mpi-bench.json")
    var csv = CSVTable(columns: ["name", "ranks", "threads_per_rank", "real_time_us", "min_us", "max_us", "gb_per_s", "fraction_of_bound"])
    func ranks(_ r: Record) -> Int { Int(r.name.components(separatedBy: "/np=").last ?? "") ?? 0 }
    func base(_ r: Record) -> String { r.name.components(separatedBy: "/np=").first ?? r.name }
    for r in all {
        csv.append([
            CSVTable.field(base(r)), "\(ranks(r))", "\(r.threads)", "\(r.real_time)", "\(r.real_time_min)", "\(r.real_time_max)",
            CSVTable.field(r.gb_per_s), CSVTable.field(r.fraction_of_bound),
        ])
    }
    try csv.write(to: dir + "/mpi-bench.csv")
    try FileManager.default.createDirectory(atPath: dir + "/plots", withIntermediateDirectories: true)
    func series(_ prefix: String) -> [SVGPlot.Series] {
        let names = Array(Set(all.map(base).filter { $0.hasPrefix(prefix) })).sorted()
        return names.map { n in
            SVGPlot.Series(
                name: n.replacingOccurrences(of: "mpi/", with: ""),
                points: all.filter { base($0) == n }.map { (Double(ranks($0)), $0.real_time) }.sorted { $0.0 < $1.0 })
        }
    }
    try SVGPlot.write(
        SVGPlot.lines(
            title: "Strong scaling: fixed problem, more ranks", xLabel: "MPI ranks", yLabel: "us per step",
            series: series("mpi/mix/") + series("mpi/dsgd/"), logY: true), to: dir + "/plots/mpi-strong-scaling.svg")
    try SVGPlot.write(
        SVGPlot.lines(
            title: "Weak scaling: problem grows with the ranks", xLabel: "MPI ranks", yLabel: "us per step",
            series: series("mpi/mix-weak/") + series("mpi/dsgd-weak/"), logY: true), to: dir + "/plots/mpi-weak-scaling.svg")
    let exchange = Array(Set(all.map(base).filter { $0.hasPrefix("mpi/exchange/") })).sorted()
    try SVGPlot.write(
        SVGPlot.lines(
            title: "Neighbour exchange: fraction of the ping-pong bound", xLabel: "MPI ranks", yLabel: "bound / measured",
            series: exchange.map { n in
                SVGPlot.Series(
                    name: n.replacingOccurrences(of: "mpi/", with: ""),
                    points: all.filter { base($0) == n }.compactMap { r in r.fraction_of_bound.map { (Double(ranks(r)), $0) } })
            }),
        to: dir + "/plots/mpi-exchange-vs-bound.svg")
    print("merged \(files.joined(separator: ", ")) into \(dir)/mpi-bench.json, mpi-bench.csv and plots/mpi-*.svg")
}

let usage = "usage: AgoraMPIBench [--quick] [--out DIR]   (under mpirun)\n       AgoraMPIBench --merge DIR"
let options = CommandLineOptions.parseOrExit(
    Array(CommandLine.arguments.dropFirst()), valued: ["--out", "--merge"], switches: ["--quick"],
    usage: usage
) { $0 }
if let dir = options.value("--merge") {
    try merge(dir)
} else {
    #if MPI
    var bench = try MPIBench(options: options)
    try bench.run()
    MPIRuntime.finish()
    #else
    print("AgoraMPIBench was built without MPI: run `make bench-mpi` (builds with --traits MPI and runs it under mpirun)")
    exit(2)
    #endif
}
