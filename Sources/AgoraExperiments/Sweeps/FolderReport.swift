import AgoraCore
import AgoraReports
import Foundation

/// `agora report`: one self-contained HTML page (`HTMLReport`) for a sweep folder or for the
/// folder of a run or study (anything an `--out` wrote: summary.json, config.json, CSV files, SVG
/// plots).
public enum FolderReport {
    /// What to plot in a sweep's report (nil: chosen from the grid, see `sweep`).
    public struct PlotChoice: Sendable {
        public var x: String?
        public var by: String?
        public var metrics: [String]
        public init(x: String? = nil, by: String? = nil, metrics: [String] = []) {
            self.x = x
            self.by = by
            self.metrics = metrics
        }
    }

    /// The page for the folder at `path`: a sweep's when it holds sweep.json and its cells,
    /// otherwise a run's.
    public static func build(path: String, plots: PlotChoice = PlotChoice()) throws -> String {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else {
            throw AgoraError.io("not a folder (give a sweep's folder or a run's --out folder)", file: path)
        }
        if FileManager.default.fileExists(atPath: path + "/sweep.json") {
            return try sweep(folder: SweepFolder(path: path), sweep: Sweep.load(path: path + "/sweep.json"), plots: plots)
        }
        return try run(path: path)
    }

    // MARK: Sweeps

    /// A sweep's page: what it ran, plots of every chosen metric against the x axis with one line
    /// per value of the `by` axis, averaged over the other axes' seeds with standard-error bars
    /// (one plot per combination of the remaining axes), the failed cells, and the whole table.
    ///
    /// Defaults: x is the first axis (seeds aside) with several numeric values, else the first
    /// with several values; `by` the next axis with 2 to 10 values; the metrics every numeric
    /// result column that varies (at most eight; not the configuration a command echoes back,
    /// `config.*`).
    public static func sweep(folder: SweepFolder, sweep: Sweep, plots choice: PlotChoice) throws -> String {
        let cells = sweep.cells()
        let outcomes = try cells.map(folder.outcome)
        let table = SweepTable(sweep: sweep, cells: cells, outcomes: outcomes)
        let col = Dictionary(uniqueKeysWithValues: table.columns.enumerated().map { ($0.element, $0.offset) })
        let done = table.rows.filter { $0[2] == .string("done") }
        func values(_ name: String) -> [JSONValue] {
            var seen: [JSONValue] = []
            for r in done { if let v = r[col[name]!], !seen.contains(v) { seen.append(v) } }
            return seen
        }
        for name in [choice.x, choice.by].compactMap({ $0 }) + choice.metrics where col[name] == nil {
            throw AgoraError.configuration(
                "'\(name)' is not a column of this sweep's table; columns: \(table.columns.joined(separator: ", "))", field: "report")
        }
        let axes = sweep.axisNames.filter { $0 != "seed" }
        let x =
            choice.x ?? axes.first { a in values(a).count >= 2 && values(a).allSatisfy { $0.number != nil } }
            ?? axes.first { values($0).count >= 2 }
        let by = choice.by ?? axes.first { $0 != x && (2...10).contains(values($0).count) }
        let facets = axes.filter { $0 != x && $0 != by }
        let metricStart = 3 + sweep.axisNames.count + sweep.options.count
        let metrics =
            choice.metrics.isEmpty
            ? Array(
                table.columns[metricStart..<(table.columns.count - 1)].filter { m in
                    // The configuration a command echoes back is not a result.
                    guard !m.hasPrefix("config.") && !m.hasPrefix("result.") else { return false }
                    let v = done.compactMap { $0[col[m]!]?.number }.filter(\.isFinite)
                    return v.count == done.count && Set(v).count >= 2
                }.prefix(8)) : choice.metrics

        var sections: [HTMLReport.Section] = []
        let failed = outcomes.filter { $0.status == "failed" }.count, missing = outcomes.filter { $0.status == "missing" }.count
        var about: [(String, String)] = [
            ("command", "agora " + ([sweep.command] + sweep.arguments).joined(separator: " ")),
            ("cells", "\(cells.count): \(done.count) done, \(failed) failed, \(missing) missing"),
        ]
        for axis in sweep.axes {
            about.append(
                (
                    "axis " + axis.names.joined(separator: " + "),
                    axis.values.map { $0.map { $0.scalarText ?? $0.json }.joined(separator: "/") }.joined(separator: ", ")
                ))
        }
        for o in sweep.options { about.append(("--" + o.name, o.value.scalarText ?? o.value.json)) }
        about.append(("folder", folder.path))
        sections.append(.init(title: "Sweep", html: HTMLReport.keyValues(about)))

        if let x, !metrics.isEmpty {
            let xs = values(x)
            let numericX = xs.allSatisfy { $0.number != nil }
            let categories = numericX ? nil : xs.map { $0.scalarText ?? $0.json }
            func position(_ v: JSONValue) -> Double { numericX ? v.number! : Double(xs.firstIndex(of: v)!) }
            var combos: [[JSONValue?]] = [[]]
            for f in facets { combos = combos.flatMap { c in values(f).map { c + [$0] } } }
            let shownCombos = Array(combos.prefix(12))
            var html = ""
            if combos.count > shownCombos.count {
                html +=
                    "<p>\(combos.count) combinations of \(facets.joined(separator: ", ")); the first 12 are drawn (the table has all).</p>"
            }
            html +=
                "<p>x: <b>\(HTMLReport.escape(x))</b>\(by.map { "; one line per <b>\(HTMLReport.escape($0))</b>" } ?? ""); each point the mean over the cells that share it (seeds), bars one standard error.</p>\n"
            for m in metrics {
                for combo in shownCombos {
                    let rows = done.filter { r in zip(facets, combo).allSatisfy { r[col[$0]!] == $1 } }
                    let groups: [JSONValue?] = by.map { b in values(b).map { Optional($0) } } ?? [nil]
                    var series: [SVGPlot.Series] = []
                    for g in groups {
                        var points: [(Double, Double)] = [], errors: [Double] = []
                        for xv in xs {
                            let ys = rows.filter { $0[col[x]!] == xv && (by == nil || $0[col[by!]!] == g) }.compactMap {
                                $0[col[m]!]?.number
                            }
                            .filter(\.isFinite)
                            guard !ys.isEmpty else { continue }
                            let mean = ys.reduce(0, +) / Double(ys.count)
                            let sd =
                                ys.count > 1 ? (ys.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(ys.count - 1)).squareRoot() : 0
                            points.append((position(xv), mean))
                            errors.append(sd / Double(ys.count).squareRoot())
                        }
                        let name = g.map { "\(by!)=\($0.scalarText ?? $0.json)" } ?? m
                        series.append(SVGPlot.Series(name: name, points: points, errors: errors))
                    }
                    let facetText = zip(facets, combo).map { "\($0)=\($1?.scalarText ?? "")" }.joined(separator: ", ")
                    let svg = SVGPlot.lines(
                        title: m + (facetText.isEmpty ? "" : " (\(facetText))"), xLabel: x, yLabel: m, series: series,
                        xCategories: categories, width: 560, height: 340)
                    html += HTMLReport.figure(svg: svg)
                }
            }
            sections.append(.init(title: "Plots", html: html))
        } else {
            sections.append(
                .init(title: "Plots", html: "<p>No plot: the grid has no axis with two or more values, or no numeric result varies.</p>"))
        }
        if failed > 0 {
            let rows = table.rows.filter { $0[2] == .string("failed") }.map { r in
                [
                    r[0]?.scalarText ?? "", sweep.axisNames.map { "\($0)=\(r[col[$0]!]?.scalarText ?? "")" }.joined(separator: " "),
                    r.last??.scalarText ?? "",
                ]
            }
            sections.append(.init(title: "Failed cells", html: HTMLReport.table(columns: ["cell", "settings", "error"], rows: rows)))
        }
        let shown = table.rows.prefix(20_000)
        sections.append(
            .init(
                title: "Results",
                html: (table.rows.count > shown.count ? "<p>The first 20000 of \(table.rows.count) rows (results.csv has all).</p>" : "")
                    + HTMLReport.table(columns: table.columns, rows: shown.map { $0.map { SweepTable.csvText($0) } })))
        return HTMLReport.page(
            title: "Sweep: agora \(([sweep.command] + sweep.arguments).joined(separator: " "))",
            subtitle: "\(cells.count) cells, \(done.count) done. Made by agora report from \(folder.path).", sections: sections)
    }

    // MARK: Runs and studies

    /// A run's or a study's page: its summary, its plots (every SVG in the folder), its
    /// configuration and its CSV tables (the first 2000 rows of each).
    public static func run(path: String) throws -> String {
        let names = try FileManager.default.contentsOfDirectory(atPath: path).sorted()
        guard names.contains(where: { $0.hasSuffix(".json") || $0.hasSuffix(".svg") || $0.hasSuffix(".csv") }) else {
            throw AgoraError.io("holds no summary.json, CSV or SVG file: not a run's --out folder or a sweep's folder", file: path)
        }
        var sections: [HTMLReport.Section] = []
        if names.contains("summary.json") {
            let v = try JSONValue.parse(
                SystemFile.read(path: path + "/summary.json", maxBytes: 64 << 20, what: "summary"), what: path + "/summary.json")
            let pairs = SweepTable.flatten(v).map { ($0.0, SweepTable.csvText($0.1)) }
            sections.append(.init(title: "Summary", html: HTMLReport.keyValues(pairs)))
        }
        let svgs = names.filter { $0.hasSuffix(".svg") }
        if !svgs.isEmpty {
            var html = ""
            for name in svgs {
                let svg = try String(decoding: SystemFile.read(path: path + "/" + name, maxBytes: 32 << 20, what: "plot"), as: UTF8.self)
                html += HTMLReport.figure(svg: svg, caption: name)
            }
            sections.append(.init(title: "Plots", html: html))
        }
        for name in names where name.hasSuffix(".csv") {
            let text = String(decoding: try SystemFile.read(path: path + "/" + name, maxBytes: 256 << 20, what: "table"), as: UTF8.self)
            let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
            guard let head = lines.first else { continue }
            let rows = lines.dropFirst().prefix(2000).map { CSVTable.fields(ofLine: String($0)) }
            let note = lines.count - 1 > rows.count ? "<p>The first 2000 of \(lines.count - 1) rows.</p>" : ""
            sections.append(.init(title: name, html: note + HTMLReport.table(columns: CSVTable.fields(ofLine: String(head)), rows: rows)))
        }
        if names.contains("config.json") {
            let text = String(decoding: try SystemFile.read(path: path + "/config.json", maxBytes: 64 << 20, what: "config"), as: UTF8.self)
            sections.append(.init(title: "Configuration", html: "<pre>\(HTMLReport.escape(text))</pre>"))
        }
        return HTMLReport.page(
            title: "Run: \(URL(fileURLWithPath: path).lastPathComponent)", subtitle: "Made by agora report from \(path).",
            sections: sections)
    }
}
