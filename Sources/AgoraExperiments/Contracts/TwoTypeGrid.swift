import AgoraMechanisms
import AgoraReports
import Foundation

/// The two-type study of the contracts paper (its section 6.1): the optimal menu for two cost types
/// over a grid of participant counts N and type shares p1, with the published extremes to compare.
///
/// Defaults are the paper's: c = (0.02, 0.01), f = (55.2558920959, 64.1608119437),
/// N in {2, 4, ..., 100}, p1 in linspace(0.01, 0.99, 30), p2 = 1 - p1. With both IRs binding,
/// m_1 = (f_2 - f_1) / (c_1 - c_2) = 890.4920 for every N.
public struct TwoTypeGrid: Sendable {
    public var participants: [Int] = Array(stride(from: 2, through: 100, by: 2))
    public var shares: [Double] = (0..<30).map { 0.01 + 0.98 * Double($0) / 29 }
    public var costs: [Double] = [0.02, 0.01]
    public var reservationUtilities: [Double] = [55.2558920959, 64.1608119437]

    public init() {}

    /// One grid point's menu, in the CSV's columns.
    public struct Point: Sendable, Equatable {
        public var participants: Int, share: Double
        public var contributions: [Double], values: [Double]
        public var informationCost: Double, lowCostRent: Double, kktResidual: Double
    }

    /// Every point, in N-major order, and the extremes the paper reports.
    public struct Result: Sendable {
        public var grid: TwoTypeGrid
        public var points: [Point]

        /// Smallest and largest contribution and value over every type and point.
        public var contributionRange: ClosedRange<Double> {
            points.flatMap(\.contributions).min()!...points.flatMap(\.contributions).max()!
        }
        public var valueRange: ClosedRange<Double> { points.flatMap(\.values).min()!...points.flatMap(\.values).max()! }
        /// The point of the smallest information cost (the first on ties).
        public var minimumInformationCost: Point {
            points.reduce(points[0]) { $1.informationCost < $0.informationCost ? $1 : $0 }
        }
        /// The point of the largest rent of the low-cost type (the first on ties).
        public var maximumLowCostRent: Point { points.reduce(points[0]) { $1.lowCostRent > $0.lowCostRent ? $1 : $0 } }

        /// `N,p1,m1,m2,t1,t2,information_cost,rent2,kkt`, one row per point.
        public var table: CSVTable {
            var t = CSVTable(columns: ["N", "p1", "m1", "m2", "t1", "t2", "information_cost", "rent2", "kkt"])
            for p in points {
                t.append(
                    [
                        "\(p.participants)", "\(p.share)", "\(p.contributions[0])", "\(p.contributions[1])", "\(p.values[0])",
                        "\(p.values[1])", "\(p.informationCost)", "\(p.lowCostRent)", "\(p.kktResidual)",
                    ])
            }
            return t
        }

        /// grid.csv and the heat maps m1, m2, t2, information_cost and rent2 (SVG) over (p1, N).
        public func write(to folder: String) throws {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try table.write(to: folder + "/grid.csv")
            let maps: [(String, String, (Point) -> Double)] = [
                ("m1", "m of the high-cost type", { $0.contributions[0] }),
                ("m2", "m of the low-cost type", { $0.contributions[1] }),
                ("t2", "t of the low-cost type", { $0.values[1] }),
                ("information_cost", "information cost E[v(a)] incomplete - complete", { $0.informationCost }),
                ("rent2", "information rent of the low-cost type", { $0.lowCostRent }),
            ]
            let columns = grid.shares.count
            for (key, label, value) in maps {
                let z = grid.participants.indices.map { r in grid.shares.indices.map { q in value(points[r * columns + q]) } }
                try SVGPlot.write(
                    SVGPlot.heatMap(
                        title: label, xLabel: "p1 (share of high-cost type)", yLabel: "N (participants)",
                        xs: grid.shares, ys: grid.participants.map(Double.init), z: z), to: folder + "/\(key).svg")
            }
        }
    }

    /// Solves every point; `progress` is called with the number of points done.
    public func run(progress: (Int) -> Void = { _ in }) throws -> Result {
        var points: [Point] = []
        points.reserveCapacity(participants.count * shares.count)
        for n in participants {
            for p1 in shares {
                let setting = ContractSetting(
                    participants: n, probabilities: [p1, 1 - p1], costs: costs, reservationUtilities: reservationUtilities)
                let menu = try ContractDesigner(setting).solve()
                points.append(
                    Point(
                        participants: n, share: p1, contributions: menu.contributions, values: menu.values,
                        informationCost: menu.informationCost, lowCostRent: menu.rents[1], kktResidual: menu.kktResidual))
                progress(points.count)
            }
        }
        return Result(grid: self, points: points)
    }
}
