import AgoraExperiments
import AgoraKernels
import AgoraLearning
import AgoraMechanisms
import AgoraReports
import AgoraTopology
import ArgumentParser
import Foundation

struct MarketAuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract:
            "Does misreporting pay? Utility change of each client from cost x0.5, cost x2 and size x2 over random markets (or one given market), and IR violations."
    )

    @Option(help: "Random markets to draw.") var markets: Int = 500
    @Option(help: "Clients per market.") var clients: Int = 10
    @Option(help: "Data sizes N ~ uniform[MIN, MAX], as MIN:MAX.") var sizes: String = "1000:10000"
    @Option(help: "Costs c ~ uniform[MIN, MAX], as MIN:MAX.") var costs: String = "0.5:2"
    @Option(name: .customLong("K"), help: "Eagerness K.") var eagerness: Double = 5e5
    @Option(help: "Distances: 1 - cos of random directions in this many dimensions.") var dimensions: Int = 5
    @Option(help: "lambda.") var lambda: Double = 2
    @Option(
        help:
            "A JSON market {\"clients\": [{\"dataSize\", \"cost\", \"eagerness\"}], \"distances\": [[...]]} to audit instead of random ones."
    ) var market: String?
    @Option(help: "Seed.") var seed: UInt64 = 1
    @Flag(help: "Print the report as JSON.") var json = false

    struct GivenMarket: Codable {
        var clients: [ClientEconomics]
        var distances: [[Double]]
    }

    func run() throws {
        try reportingErrors {
            let mech = ModelMarket(lambda: lambda)
            let report: IncentiveAudit.Report
            if let market {
                let g = try loadJSONConfig(market, as: GivenMarket.self, what: "market (clients and distances)")
                let d: Matrix<Double>
                do { d = try Matrix(g.distances) } catch { throw CLIError("\(market): distances: \(error)") }
                do { report = try IncentiveAudit.audit(market: mech, truth: g.clients, distances: d) } catch let e as AgoraError {
                    throw CLIError("\(market): \(e.message)")
                }
            } else {
                func range(_ s: String, _ flag: String) throws -> (Double, Double) {
                    let p = s.split(separator: ":", omittingEmptySubsequences: false).map { Double($0) }
                    guard p.count == 2, let lo = p[0], let hi = p[1], lo.isFinite, hi.isFinite, lo <= hi else {
                        throw ValidationError("\(flag) '\(s)': expected MIN:MAX with finite MIN <= MAX")
                    }
                    return (lo, hi)
                }
                var draw = IncentiveAudit.MarketDraw()
                draw.clients = clients
                draw.eagerness = eagerness
                draw.dimensions = dimensions
                (draw.minSize, draw.maxSize) = try range(sizes, "--sizes")
                (draw.minCost, draw.maxCost) = try range(costs, "--costs")
                report = try IncentiveAudit.audit(market: mech, markets: try IncentiveAudit.randomMarkets(draw, count: markets, seed: seed))
            }
            if json {
                print(try JSONOutput.line(report))
                return
            }
            print(
                "incentive audit: \(report.markets) market\(report.markets == 1 ? "" : "s") of \(report.clients) clients, lambda = \(fmt(lambda)); one client misreports at a time, utilities on true values"
            )
            printAudit(report)
            let lies = report.findings.filter { $0.profitable > 0 }
            if lies.isEmpty {
                print("finding: no audited misreport paid in these markets.")
            } else {
                print(
                    "finding: truthfulness fails for "
                        + lies.map {
                            "\($0.deviation.name) (\(String(format: "%.1f%%", 100 * $0.profitableFraction)) of cases, \(String(format: "%.0f%%", 100 * Double($0.profitableMarkets) / Double(max(1, report.markets)))) of markets)"
                        }.joined(separator: ", ")
                        + "; the paper claims truthfulness, the rule as specified does not have it.")
            }
        }
    }
}
