import AgoraExperiments
import AgoraReports
import ArgumentParser
import Foundation

/// `agora report DIR`: one self-contained HTML page for a sweep's folder or a run's `--out`
/// folder (`FolderReport`).
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write one self-contained HTML page (inline plots and tables, no network) for a sweep's folder or a run's --out folder.",
        discussion: """
            For a sweep: what it ran, plots of each metric against an axis with one line per value of another \
            (means over seeds, standard-error bars), the failed cells, and the table (sortable, filterable). For a \
            run or a study: its summary, its plots, its CSV tables and its configuration.
            """
    )

    @Argument(help: "A sweep's folder (agora sweep) or a run's --out folder.") var folder: String
    @Option(help: "The HTML file to write (default: FOLDER/report.html).") var out: String?
    @Option(help: "Sweeps: the axis on the x axis (default: the first with several numeric values).") var x: String?
    @Option(help: "Sweeps: one line per value of this axis (default: the next axis with 2 to 10 values).") var by: String?
    @Option(help: "Sweeps: a result column to plot (repeat for more; default: every numeric result that varies, at most 8).")
    var metric: [String] = []

    func run() throws {
        let html = try FolderReport.build(path: folder, plots: .init(x: x, by: by, metrics: metric))
        let path = out ?? folder + "/report.html"
        try HTMLReport.write(html, to: path)
        print("wrote \(path) (\(html.utf8.count / 1024) KB)")
    }
}
