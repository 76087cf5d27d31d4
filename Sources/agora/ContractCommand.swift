import AgoraExperiments
import AgoraKernels
import AgoraLearning
import AgoraMechanisms
import AgoraReports
import AgoraTopology
import ArgumentParser
import Foundation

struct ContractCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "contract",
        abstract: "Optimal contracts paid with models: solve a scenario (s1, s2, s3), the two-type grid, or a JSON setting.")

    @Argument(
        help: "Scenario name (s1, s2, s3, two-type-grid) or a JSON file with N, p, c and optional f, k, valuation_scale, conditioning.")
    var setting: String = "s3"
    @Flag(help: "Print one JSON object on stdout (the menu, objective, KKT residual).") var json = false
    @Option(help: "Write the menu and reward distributions as CSV files into this folder.") var out: String?
    @Flag(help: "Also solve the full program (all pairwise IC) and report its objective.") var checkFull = false
    @Option(help: "Conditioning on n_i >= 1 (overrides the file).") var conditioning: MultinomialOutcomes.Conditioning?
    @Option(help: "Replace the exact enumeration by this many sampled outcomes (sample-average approximation, with a standard error).")
    var sampled: Int?
    @Option(help: "Seed for --sampled.") var seed: UInt64 = 1

    func run() throws {
        try reportingErrors {
            if let out { try prepareOutputFolder(out) }
            if setting == "two-type-grid" {
                try runGrid()
                return
            }
            var s: ContractSetting
            var title: String
            if let sc = ContractScenario(rawValue: setting.lowercased()) {
                s = sc.setting
                title = sc.summary
            } else {
                guard FileManager.default.fileExists(atPath: setting) else {
                    throw ValidationError("'\(setting)' is neither a scenario (s1, s2, s3, two-type-grid) nor a readable JSON file")
                }
                // A setting is a few numbers; 1 MiB bounds any valid file (regular files only).
                let data = Data(try SystemFile.read(path: setting, maxBytes: 1 << 20, what: "the contract setting"))
                if let dup = duplicateJSONKey(in: data) {
                    throw CLIError("\(setting):\(dup.line): the field '\(dup.key)' appears twice in one object; keep one")
                }
                do { s = try JSONDecoder().decode(ContractSetting.self, from: data) } catch let e as DecodingError {
                    throw ValidationError(
                        "\(setting): \(describe(e)); expected {\"N\": 10, \"p\": [...], \"c\": [...]} with optional f, k, valuation_scale, conditioning"
                    )
                }
                let unknown = unknownJSONKeys(in: data, decoded: s)
                guard unknown.isEmpty else {
                    throw CLIError(
                        "\(setting): unknown field\(unknown.count > 1 ? "s" : "") \(unknown.joined(separator: ", ")); expected N, p, c and optionally f, k, valuation_scale, conditioning"
                    )
                }
                title = setting
            }
            if let conditioning {
                s.conditioning = conditioning
            }
            let start = DispatchTime.now().uptimeNanoseconds
            if let sampled, sampled < 1 { throw ValidationError("--sampled must be at least 1") }
            let d = try ContractDesigner(s, sampledOutcomes: sampled, seed: seed)
            let menu = try d.solve(checkFullProgram: checkFull)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
            if let out { try writeCSV(menu, d, folder: out) }
            if json {
                print(try JSONOutput.line(menu))
                return
            }
            print(title)
            if let sN = menu.samples {
                print(
                    "N = \(s.participants), \(s.costs.count) types, SAMPLED: \(sN) draws (\(menu.outcomes) distinct outcomes), \(s.conditioning.rawValue) conditioning"
                )
            } else {
                print(
                    "N = \(s.participants), \(s.costs.count) types, \(menu.outcomes) outcomes enumerated, \(s.conditioning.rawValue) conditioning"
                )
            }
            print("")
            print(
                pad("type", 6) + pad("p", 8) + pad("cost c", 10) + pad("m", 14) + pad("t", 12) + pad("u", 12) + pad("f", 12)
                    + pad("rent", 10) + pad("alone m", 12))
            for i in s.costs.indices {
                print(
                    pad("\(i + 1)", 6) + pad(fmt(s.probabilities[i]), 8) + pad(fmt(s.costs[i]), 10)
                        + pad(String(format: "%.4f", menu.contributions[i]), 14) + pad(String(format: "%.4f", menu.values[i]), 12)
                        + pad(String(format: "%.4f", menu.utilities[i]), 12) + pad(String(format: "%.4f", menu.reservationUtilities[i]), 12)
                        + pad(String(format: "%.4f", menu.rents[i]), 10) + pad(String(format: "%.2f", menu.standAloneContributions[i]), 12))
            }
            print("")
            print(
                String(format: "E[v(a)] = %.6f   (E[a] = %.8f)", menu.expectedValue, menu.expectedAccuracy)
                    + (menu.expectedValueStandardError.map { String(format: "   sampled: standard error %.2e", $0) } ?? ""))
            print(
                String(
                    format: "complete information E[v(a)] = %.6f, information cost = %.6f", menu.completeInformationValue,
                    menu.informationCost))
            if let fv = menu.fullProgramValue { print(String(format: "full program (all pairwise IC) E[v(a)] = %.6f", fv)) }
            print(
                "pooled types: \(menu.pooling.isEmpty ? "none" : menu.pooling.map { "{" + $0.map { "\($0 + 1)" }.joined(separator: ",") + "}" }.joined(separator: " "))"
            )
            print(
                String(
                    format: "KKT residual %.2e, %d Newton steps (%@), %.1f ms", menu.kktResidual, menu.newtonSteps, menu.solverFinish,
                    seconds * 1e3))
        }
    }

    func describe(_ e: DecodingError) -> String {
        switch e {
        case let .keyNotFound(k, _): return "missing field '\(k.stringValue)'"
        case let .typeMismatch(_, c): return "field '\(c.codingPath.map(\.stringValue).joined(separator: "."))' has the wrong type"
        case let .valueNotFound(_, c): return "field '\(c.codingPath.map(\.stringValue).joined(separator: "."))' is null"
        case let .dataCorrupted(c): return "not valid JSON (\(c.debugDescription))"
        @unknown default: return "invalid JSON"
        }
    }

    func writeCSV(_ menu: ContractMenu, _ d: ContractDesigner, folder: String) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var s = "type,p,cost,m,t,u,f,rent,budget,stand_alone_m\n"
        for i in menu.setting.costs.indices {
            s +=
                "\(i + 1),\(menu.setting.probabilities[i]),\(menu.setting.costs[i]),\(menu.contributions[i]),\(menu.values[i]),\(menu.utilities[i]),\(menu.reservationUtilities[i]),\(menu.rents[i]),\(menu.budgets[i]),\(menu.standAloneContributions[i])\n"
        }
        try SystemFile.writeAtomically(s, to: folder + "/menu.csv")
        var r = "type,counts,probability,model_accuracy,reward_accuracy\n"
        for i in menu.setting.costs.indices {
            for o in d.rewardDistribution(menu, type: i) {
                r +=
                    "\(i + 1),\(o.counts.map(String.init).joined(separator: "-")),\(o.probability),\(o.modelAccuracy),\(o.rewardAccuracy)\n"
            }
        }
        try SystemFile.writeAtomically(r, to: folder + "/rewards.csv")
        // Reward distribution per type: the CDF of the model accuracy r_i(n) a type receives.
        var series: [SVGPlot.Series] = []
        for i in menu.setting.costs.indices {
            let dist = d.rewardDistribution(menu, type: i).sorted { $0.rewardAccuracy < $1.rewardAccuracy }
            var cum = 0.0
            var pts: [(Double, Double)] = []
            for o in dist {
                pts.append((o.rewardAccuracy, cum))
                cum += o.probability
                pts.append((o.rewardAccuracy, cum))
            }
            series.append(SVGPlot.Series(name: String(format: "type %d (c = %g)", i + 1, menu.setting.costs[i]), points: pts))
        }
        try SVGPlot.write(
            SVGPlot.lines(
                title: "Reward distributions P(r_i <= x | n_i >= 1) (pooled types coincide)", xLabel: "model accuracy received r_i(n)",
                yLabel: "cumulative probability", series: series), to: folder + "/rewards.svg")
        try JSONOutput.write(menu, to: folder + "/menu.json")
    }

    /// The two-type grid of the paper's section 6.1 (`TwoTypeGrid`), with the published extremes.
    func runGrid() throws {
        let grid = TwoTypeGrid()
        let progress = Progress(total: grid.participants.count * grid.shares.count, label: "two-type grid")
        let r = try grid.run { progress.update($0) }
        progress.finish()
        let folder = out ?? "contract-two-type"
        try r.write(to: folder)
        func at(_ p: TwoTypeGrid.Point) -> String { String(format: "N = %d, p1 = %.2f", p.participants, p.share) }
        print("two-type grid: c = (0.02, 0.01), f = (55.2559, 64.1608), \(grid.participants.count) x \(grid.shares.count) points")
        print(
            String(
                format: "m in [%.2f, %.2f]   (published [890.49, 3421.92])", r.contributionRange.lowerBound, r.contributionRange.upperBound)
        )
        print(String(format: "t in [%.2f, %.2f]   (published [73.07, 98.38])", r.valueRange.lowerBound, r.valueRange.upperBound))
        let ic = r.minimumInformationCost, rent = r.maximumLowCostRent
        print(String(format: "minimum information cost %.3f at %@   (published -1.62 at N = 2, p1 ~ 0.48)", ic.informationCost, at(ic)))
        print(
            String(
                format: "maximum rent of the low-cost type %.3f at %@   (published 12.46 at N = 100, p1 ~ 0.58)", rent.lowCostRent, at(rent)
            ))
        print("per-point results written to \(folder)/grid.csv; heat maps m1.svg m2.svg t2.svg information_cost.svg rent2.svg")
    }
}
