import AgoraBenchCore
import AgoraReports
import Foundation

/// `record`: runs the probe `--rounds` times and appends one entry to the store's file for this
/// machine identity.
func runRecord(_ o: CommandLineOptions) throws {
    let probe = try o.string("--probe"), store = HistoryStore(folder: try o.string("--store"))
    let commit = try o.string("--commit")
    let rounds = try o.number("--rounds", default: 5, min: 1), reps = try o.number("--reps", default: 5, min: 1)
    let size = o.value("--size") ?? "default"
    var side = SideResults()
    for k in 0..<rounds {
        printErr("invocation \(k + 1)/\(rounds)")
        side.add(try invokeProbe(probe, only: o.value("--only"), size: size, reps: reps, inject: nil))
    }
    guard let identity = side.identity else { throw ProbeError(description: "the probe reported no benchmarks") }
    var benchmarks: [String: HistoryEntry.Benchmark] = [:]
    for n in side.order {
        let m = side.medians[n]!
        benchmarks[n] = HistoryEntry.Benchmark(median_us: Statistics.median(m), invocations_us: m, digest: side.digests[n]!)
    }
    let entry = HistoryEntry(
        commit: commit, subject: o.value("--subject") ?? "", dirty: o.has("--dirty"),
        date: ISO8601DateFormatter().string(from: Date()), identity: identity, size: size, benchmarks: benchmarks)
    let path = try store.append(entry)
    print("recorded \(commit.prefix(10))\(entry.dirty ? " (with uncommitted changes)" : "") on \(identity.summary)")
    for n in side.order { print(pad(n, 18) + String(format: "%10.1f us", benchmarks[n]!.median_us)) }
    print("appended to \(path)")
}

/// `report`: per machine identity and benchmark, the history over commits as SVG (median per
/// commit, the fitted levels, the detected steps) and CSV, and the steps printed.
func runReport(_ o: CommandLineOptions) throws {
    let store = HistoryStore(folder: try o.string("--store")), out = try o.string("--out")
    let detector = ChangePointDetector(
        alpha: try o.number("--alpha", default: 0.01, min: 0),
        minimumStep: try o.number("--min-step", default: 0.05, min: 0))
    // Commit order, oldest first (git rev-list --reverse); entries of unknown commits go last, by date.
    var rank: [String: Int] = [:]
    if let path = o.value("--order") {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw UsageError(description: "cannot read --order file \(path)")
        }
        for (k, line) in text.split(separator: "\n").enumerated() { rank[String(line.prefix(40))] = k }
    }
    let machines = try store.load()
    if machines.isEmpty {
        print("\(store.folder) holds no history yet (make bench-record adds a run)")
        return
    }
    for (slug, entries) in machines where !entries.isEmpty {
        let sorted = entries.enumerated().sorted { x, y in
            let rx = rank[x.element.commit] ?? Int.max, ry = rank[y.element.commit] ?? Int.max
            return rx != ry ? rx < ry : (x.element.date, x.offset) < (y.element.date, y.offset)
        }.map(\.element)
        // One group per commit (several runs of one commit pool their invocations); a dirty run is its own point.
        var keys: [String] = [], groups: [String: [HistoryEntry]] = [:]
        for e in sorted {
            let key = e.dirty ? e.commit + "+dirty@" + e.date : e.commit
            if groups[key] == nil { keys.append(key) }
            groups[key, default: []].append(e)
        }
        let dir = out + "/" + slug
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let identity = sorted.last!.identity
        print("\n== \(identity.summary)  [\(slug): \(entries.count) runs, \(keys.count) commits]")
        var csv = CSVTable(columns: ["benchmark", "index", "commit", "dirty", "median_us", "invocations", "level_us", "step"])
        let names = Array(Set(sorted.flatMap { $0.benchmarks.keys })).sorted()
        for name in names {
            let series = keys.map { k in groups[k]!.flatMap { $0.benchmarks[name]?.invocations_us ?? [] } }
            let present = series.indices.filter { !series[$0].isEmpty }
            guard !present.isEmpty else { continue }
            let g = present.map { series[$0] }
            let steps = detector.detect(g)
            let levels = detector.levels(g, steps: steps)
            let stepAt = Set(steps.map(\.index))
            for (j, k) in present.enumerated() {
                let e = groups[keys[k]]!.first!
                csv.append([
                    name, "\(k)", e.commit, "\(e.dirty)", "\(Statistics.median(series[k]))", "\(series[k].count)",
                    "\(levels[j])", stepAt.contains(j) ? "yes" : "",
                ])
            }
            var plotted = [
                SVGPlot.Series(
                    name: "median per commit",
                    points: present.enumerated().map { (Double($0.offset), Statistics.median(series[$0.element])) }),
                SVGPlot.Series(name: "fitted level", points: present.indices.map { (Double($0), levels[$0]) }, dashed: true),
            ]
            let lo = g.flatMap { $0 }.min()!, hi = g.flatMap { $0 }.max()!
            for st in steps {
                let commit = groups[keys[present[st.index]]]!.first!.commit.prefix(8)
                plotted.append(
                    SVGPlot.Series(
                        name: String(format: "step at %@ %+.1f%%", String(commit), 100 * st.change),
                        points: [(Double(st.index) - 0.5, lo), (Double(st.index) - 0.5, hi)], dashed: true))
                print(
                    String(
                        format: "   %@: step at commit %@ (%d of %d): %+.1f%% (p = %.1e)", name, String(commit), st.index + 1, g.count,
                        100 * st.change, st.p))
            }
            if steps.isEmpty {
                print("   \(name): no step over \(g.count) commits (latest \(String(format: "%.1f", Statistics.median(g.last!))) us)")
            }
            let file = dir + "/" + name.replacingOccurrences(of: "/", with: "_") + ".svg"
            try SVGPlot.write(
                SVGPlot.lines(
                    title:
                        "\(name) on \(identity.cpu_model), \(identity.num_cpus) CPUs, OpenBLAS \(identity.openblas_corename), \(identity.threads) threads",
                    xLabel: "commit (oldest first; history.csv names them)", yLabel: "microseconds per call",
                    series: plotted), to: file)
        }
        try csv.write(to: dir + "/history.csv")
        print("   wrote \(dir)/history.csv and one SVG per benchmark")
    }
}
