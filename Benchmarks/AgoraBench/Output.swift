import AgoraBenchCore
import AgoraExperiments
import AgoraKernels
import AgoraLearning
import AgoraMechanisms
import AgoraReports
import AgoraTopology
import Foundation

extension BenchSession {
    /// The machine and build this run measured (recorded with every result).
    func context() -> Context {
        Context.current(
            executable: executable, openblasConfig: OpenBLAS.config, openblasCoreName: OpenBLAS.coreName,
            threads: allThreads, quick: quick)
    }

    /// agora-bench.json (google-benchmark format) and agora-bench.csv under the output folder, and
    /// the baseline file of --save-baseline.
    func writeOutputs() throws {
        let ctx = context()
        try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
        try JSONOutput.write(Output(context: ctx, benchmarks: records), to: outDir + "/agora-bench.json")
        var csv = CSVTable(columns: [
            "name", "threads", "real_time_us", "min_us", "max_us", "gb_per_s", "gflop_per_s", "fraction_of_bound", "bound",
        ])
        for r in records {
            csv.append([
                CSVTable.field(r.name), "\(r.threads)", "\(r.real_time)", "\(r.real_time_min)", "\(r.real_time_max)",
                CSVTable.field(r.gb_per_s), CSVTable.field(r.gflop_per_s), CSVTable.field(r.fraction_of_bound),
                CSVTable.field(r.bound ?? ""),
            ])
        }
        try csv.write(to: outDir + "/agora-bench.csv")
        print("\nwrote \(outDir)/agora-bench.json and \(outDir)/agora-bench.csv")
        if let path = options.value("--save-baseline") {
            try JSONOutput.write(Output(context: ctx, benchmarks: records), to: path)
            print("saved baseline \(path)")
        }
    }

    /// --baseline FILE [--threshold T] [--force-machine]: compares with a saved run and exits 1 on a
    /// regression beyond max(threshold, the measured spread); exits 2 without comparing when the
    /// baseline comes from another machine, OpenBLAS core or thread count, unless forced.
    func compareWithBaseline() throws {
        guard let baselinePath = options.value("--baseline") else { return }
        guard let data = FileManager.default.contents(atPath: baselinePath) else {
            print("error: cannot read baseline \(baselinePath)")
            exit(2)
        }
        let base: Output
        do { base = try JSONOutput.decoder().decode(Output.self, from: data) } catch {
            print("error: \(baselinePath) is not an AgoraBench JSON file (\(error))")
            exit(2)
        }
        // Timings from another machine, OpenBLAS core or thread count say nothing about the code.
        let mine = MachineIdentity(context()), theirs = MachineIdentity(base.context)
        let blocking = mine.blockingDifferences(from: theirs)
        if !blocking.isEmpty {
            let forced = options.has("--force-machine")
            print("\n\(forced ? "warning" : "error"): the baseline \(baselinePath) was measured on a different machine or configuration:")
            for d in blocking { print("   this run vs baseline: \(d)") }
            guard forced else {
                print("refusing to compare (pass --force-machine to compare anyway; the differences above will be part of every ratio)")
                exit(2)
            }
        }
        for d in mine.noteworthyDifferences(from: theirs) { print("note: this run vs baseline: \(d)") }
        let cmp = BaselineComparison(baseline: base.benchmarks, current: records, threshold: threshold)
        print("\n== regression check against \(baselinePath) (revision \(base.context.git_revision), threshold \(threshold), spread-aware)")
        for r in cmp.rows {
            print(
                pad(r.name, 56)
                    + String(format: "%+7.1f%% (allowed %+.1f%%)%@", 100 * r.change, 100 * r.allowance, r.regressed ? "  REGRESSION" : ""))
        }
        if !cmp.onlyInBaseline.isEmpty { print("only in the baseline: \(cmp.onlyInBaseline.joined(separator: ", "))") }
        if !cmp.onlyInCurrent.isEmpty { print("new in this run: \(cmp.onlyInCurrent.joined(separator: ", "))") }
        if !cmp.regressions.isEmpty {
            print("\(cmp.regressions.count) configuration(s) slower than the baseline beyond the allowance")
            exit(1)
        }
        print("no regression")
    }
}
