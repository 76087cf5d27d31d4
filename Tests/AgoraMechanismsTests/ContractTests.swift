import AgoraKernels
import AgoraLearning
import AgoraMechanisms
import AgoraTestSupport
import AgoraTopology
import Foundation
import XCTest

final class ContractTests: XCTestCase {
    static let published: [ContractScenario: (m: [Double], t: [Double]?, value: Double)] = [
        .s1: ([391.0177, 391.7842, 392.3847, 393.1483, 424.6869], [84.9736, 85.0963, 85.1683, 85.2294, 86.4910], 86.47827),
        .s2: ([69.03378, 69.04173, 69.04291, 69.05643, 69.06396], nil, 69.05210),
        .s3: ([104.3154, 104.4114, 1166.4607, 1166.6352, 11740.3004], [52.1577, 52.1961, 84.0576, 84.0611, 94.6347], 94.01337),
    ]

    func testAccuracyDerivativesMatchFiniteDifferences() {
        let a = GeneralizationBoundAccuracy(k: 1)
        for x in [60.0, 100, 391, 1166, 11740, 1e5] {
            let (_, d1, d2) = a.evaluate(x)
            let h = x * 1e-5
            let fd1 = (a.evaluate(x + h).a - a.evaluate(x - h).a) / (2 * h)
            let fd2 = (a.evaluate(x + h).da - a.evaluate(x - h).da) / (2 * h)
            XCTAssertEqual(d1, fd1, accuracy: 1e-7 * abs(d1), "a'(\(x))")
            XCTAssertEqual(d2, fd2, accuracy: 1e-6 * abs(d2), "a''(\(x))")
            XCTAssertLessThan(d2, 0, "concave on the positive branch")
        }
        XCTAssertEqual(a.evaluate(0.1).a, 0)
        XCTAssertEqual(a.evaluate(10).a, 0, "the formula is negative there: clamped to 0")
    }

    /// The vectorised accuracy against the formula written out directly (libm's log, plain
    /// divisions: an independent reference), the batched form against the single-element one (bit
    /// for bit, whatever the position in the buffer), and the branch edges.
    func testVectorisedAccuracyMatchesTheFormulaAndItsScalarForm() {
        func reference(_ x: Double, k: Double) -> (Double, Double, Double) {
            guard x > k * exp(-2) else { return (0, 0, 0) }
            let s = (2 * k * (2 + log(x / k))).squareRoot(), sx = x.squareRoot()
            let a = 1 - (s + 4) / sx
            guard a > 0 else { return (0, 0, 0) }
            let h = (s + 4) / 2 - k / s, x32 = x * sx, ds = k / (s * x), dh = ds * (0.5 + k / (s * s))
            return (a, h / x32, dh / x32 - 1.5 * h / (x32 * x))
        }
        var rng = SeededGenerator(seed: 17)
        for k in [1.0, 0.37, 5] {
            let acc = GeneralizationBoundAccuracy(k: k)
            var xs = (0..<1003).map { _ in k * exp(Double.random(in: -3...14, using: &rng)) }
            xs += [0, -1, k * exp(-2), .nan, .infinity, -.infinity, .leastNonzeroMagnitude, .greatestFiniteMagnitude]
            var a = [Double](repeating: -1, count: xs.count), da = a, d2a = a
            xs.withUnsafeBufferPointer { xb in
                a.withUnsafeMutableBufferPointer { ab in
                    da.withUnsafeMutableBufferPointer { db in
                        d2a.withUnsafeMutableBufferPointer { d2b in
                            // Odd offsets and lengths: every element meets every lane position and the padded tail.
                            for (lo, hi) in [(0, 5), (5, 12), (12, 700), (700, xs.count)] {
                                acc.evaluate(
                                    UnsafeBufferPointer(rebasing: xb[lo..<hi]), a: ab.baseAddress! + lo,
                                    da: db.baseAddress! + lo, d2a: d2b.baseAddress! + lo)
                            }
                        }
                    }
                }
            }
            for (i, x) in xs.enumerated() {
                let one = acc.evaluate(x)
                XCTAssertEqual(one.a.bitPattern, a[i].bitPattern, "a(\(x)): batched and single differ")
                XCTAssertEqual(one.da.bitPattern, da[i].bitPattern, "a'(\(x)): batched and single differ")
                XCTAssertEqual(one.d2a.bitPattern, d2a[i].bitPattern, "a''(\(x)): batched and single differ")
                let (ra, rda, rd2a) = reference(x, k: k)
                if ra == 0 || !ra.isFinite {
                    // Off the branch both give exact zeros; at the kink (a within rounding of 0) allow either side.
                    if abs(ra) < 1e-12 && abs(a[i]) < 1e-12 { continue }
                    XCTAssertEqual(a[i], 0, "a(\(x)) off the positive branch")
                    XCTAssertEqual(da[i], 0)
                    XCTAssertEqual(d2a[i], 0)
                    continue
                }
                // Absolute in a (1 - (s + 4)/sqrt(x) cancels near the kink), relative in the derivatives.
                XCTAssertEqual(a[i], ra, accuracy: 1e-14, "a(\(x))")
                XCTAssertEqual(da[i], rda, accuracy: 1e-13 * abs(rda), "a'(\(x))")
                XCTAssertEqual(d2a[i], rd2a, accuracy: 1e-12 * abs(rd2a), "a''(\(x))")
            }
        }
    }

    /// The complete-information benchmark (safeguarded Newton per outcome) against the definition
    /// solved by plain bisection here: per outcome n, the largest root M of S v(a(M)) - F - M, with
    /// S = sum n_i / c_i and F = sum n_i f_i / c_i, located right of the maximum on a fine grid.
    func testCompleteInformationValueMatchesABisectionReference() throws {
        for scenario in ContractScenario.allCases {
            let d = try ContractDesigner(scenario.setting)
            let o = try MultinomialOutcomes(trials: scenario.setting.participants, probabilities: scenario.setting.probabilities)
            let acc = GeneralizationBoundAccuracy(k: 1), val = LinearValuation(scale: 100)
            let c = scenario.setting.costs, f = d.reservationUtilities
            var reference = 0.0
            for r in 0..<o.counts.rows {
                var s = 0.0, ff = 0.0
                for i in 0..<c.count {
                    s += o.counts[r, i] / c[i]
                    ff += o.counts[r, i] * f[i] / c[i]
                }
                func g(_ m: Double) -> Double { s * val.evaluate(acc.evaluate(m).a).v - ff - m }
                // The largest sign change of g on a log grid up to S v(1), then bisection.
                var hi = s * 100 + 1, lo = hi
                while lo > 1e-3 && g(lo) < 0 { lo /= 1.01 }
                if g(lo) < 0 { continue }
                for _ in 0..<200 {
                    let mid = 0.5 * (lo + hi)
                    if g(mid) >= 0 { lo = mid } else { hi = mid }
                }
                reference += o.pmf[r] * val.evaluate(acc.evaluate(lo).a).v
            }
            XCTAssertEqual(d.completeInformationValue(), reference, accuracy: 1e-9 * reference, "\(scenario)")
        }
    }

    func testReservationUtilitiesMatchThePublishedValues() throws {
        let s1 = try ContractDesigner(ContractScenario.s1.setting)
        let expect = [6.7700968, 13.1516137, 20.7450811, 30.3442572, 44.1605214]
        for i in 0..<5 { XCTAssertEqual(s1.reservationUtilities[i], expect[i], accuracy: 2e-7) }
        XCTAssertEqual(try ContractDesigner(ContractScenario.s2.setting).reservationUtilities, [0, 0, 0, 0, 0])
        let s3 = try ContractDesigner(ContractScenario.s3.setting).reservationUtilities
        for (i, v) in [0, 0, 49.0628736, 55.2558921, 82.8942484].enumerated() { XCTAssertEqual(s3[i], v, accuracy: 2e-7) }
    }

    func testOutcomeEnumeration() throws {
        let o = try MultinomialOutcomes(trials: 10, probabilities: [0.2, 0.2, 0.2, 0.2, 0.2])
        XCTAssertEqual(o.counts.rows, 1001)
        XCTAssertEqual(o.pmf.reduce(0, +), 1, accuracy: 1e-12)
        for i in 0..<5 { XCTAssertEqual(o.conditional.row(i).reduce(0, +), 1, accuracy: 1e-12) }
        let sb = try MultinomialOutcomes(trials: 10, probabilities: [0.5, 0.3, 0.2], conditioning: .sizeBiased)
        for i in 0..<3 { XCTAssertEqual(sb.conditional.row(i).reduce(0, +), 1, accuracy: 1e-12) }
        XCTAssertEqual(MultinomialOutcomes.outcomeCount(trials: 10, types: 5), 1001, accuracy: 1e-6)
    }

    /// The invariants of the spec, on one solved menu (types given in cost-descending order).
    func checkInvariants(_ menu: ContractMenu, _ d: ContractDesigner, label: String, file: StaticString = #filePath, line: UInt = #line) {
        let c = menu.setting.costs, m = menu.contributions, t = menu.values, u = menu.utilities, f = menu.reservationUtilities
        let order = c.indices.sorted { c[$0] > c[$1] }
        let tolV = 1e-8 * max(1, t.max() ?? 1)
        // 1. u_1 = f_1 (highest-cost type).
        XCTAssertEqual(u[order[0]], f[order[0]], accuracy: tolV, "\(label): u_1 = f_1", file: file, line: line)
        // 2. Local downward ICs bind; all pairwise ICs hold.
        for k in 1..<order.count {
            let i = order[k], j = order[k - 1]
            XCTAssertEqual(t[i] - c[i] * m[i], t[j] - c[i] * m[j], accuracy: tolV, "\(label): local downward IC", file: file, line: line)
        }
        for i in c.indices {
            for j in c.indices where i != j {
                XCTAssertGreaterThanOrEqual(
                    u[i] - (t[j] - c[i] * m[j]), -1e-9 * max(1, abs(u[i])), "\(label): IC \(i) vs \(j)", file: file, line: line)
            }
        }
        // 3. m, t, u nondecreasing as cost falls.
        for k in 1..<order.count {
            XCTAssertGreaterThanOrEqual(m[order[k]], m[order[k - 1]] * (1 - 1e-12), "\(label): m monotone", file: file, line: line)
            XCTAssertGreaterThanOrEqual(t[order[k]], t[order[k - 1]] - tolV, file: file, line: line)
            XCTAssertGreaterThanOrEqual(u[order[k]], u[order[k - 1]] - tolV, file: file, line: line)
        }
        // 4. Budget binds for the lowest-cost type, holds for all.
        XCTAssertEqual(
            t[order.last!], menu.budgets[order.last!], accuracy: 1e-7 * t[order.last!], "\(label): budget binds", file: file, line: line)
        for i in c.indices { XCTAssertLessThanOrEqual(t[i], menu.budgets[i] + tolV, file: file, line: line) }
        // 5. IR.
        for i in c.indices { XCTAssertGreaterThanOrEqual(u[i], f[i] - tolV, "\(label): IR \(i)", file: file, line: line) }
        // 6. Map-back: r_i(n) <= a(n.m), E[v(r_i) | n_i >= 1] = t_i.
        for i in c.indices {
            let dist = d.rewardDistribution(menu, type: i)
            var ev = 0.0, mass = 0.0
            for o in dist {
                XCTAssertLessThanOrEqual(o.rewardAccuracy, o.modelAccuracy * (1 + 1e-12), file: file, line: line)
                XCTAssertGreaterThanOrEqual(o.counts[i], 1, file: file, line: line)
                ev += o.probability * d.valuation.evaluate(o.rewardAccuracy).v
                mass += o.probability
            }
            XCTAssertEqual(mass, 1, accuracy: 1e-12, file: file, line: line)
            XCTAssertEqual(ev, t[i], accuracy: 1e-9 * max(1, t[i]), "\(label): map-back expectation", file: file, line: line)
        }
        XCTAssertLessThan(menu.kktResidual, 1e-8, "\(label): KKT residual", file: file, line: line)
    }

    func testPublishedScenarios() throws {
        for s in ContractScenario.allCases {
            let d = try ContractDesigner(s.setting)
            let menu = try d.solve(checkFullProgram: true)
            checkInvariants(menu, d, label: s.rawValue)
            let pub = Self.published[s]!
            // Objective at least the published one (which is feasible but slightly suboptimal).
            XCTAssertGreaterThanOrEqual(menu.expectedValue, pub.value - 1e-5, "\(s): objective")
            for i in 0..<5 { XCTAssertEqual(menu.contributions[i], pub.m[i], accuracy: 0.05 * pub.m[i], "\(s): m[\(i)]") }
            if let pt = pub.t { for i in 0..<5 { XCTAssertEqual(menu.values[i], pt[i], accuracy: 0.01 * pt[i], "\(s): t[\(i)]") } }
            // The exact optimum pools the types the published vectors show as nearly equal.
            let expectedPools: [ContractScenario: [[Int]]] = [.s1: [[0, 1, 2, 3]], .s2: [[0, 1, 2, 3, 4]], .s3: [[0, 1], [2, 3]]]
            XCTAssertEqual(menu.pooling, expectedPools[s]!, "\(s): pooling")
            for group in menu.pooling { for i in group { XCTAssertEqual(menu.contributions[i], menu.contributions[group[0]]) } }
            // The full program (all pairwise IC) reaches the same optimum.
            XCTAssertEqual(menu.fullProgramValue!, menu.expectedValue, accuracy: 1e-6 * menu.expectedValue, "\(s): full vs reduced")
        }
    }

    func testS1AsksTheCheapestTypeForLessThanItWouldGiveAlone() throws {
        let d = try ContractDesigner(ContractScenario.s1.setting)
        let menu = try d.solve()
        XCTAssertLessThan(menu.contributions[4], menu.standAloneContributions[4])
    }

    func testTwoTypeClosedFormWithBothIRBinding() throws {
        var bothBinding = 0
        for n in [2, 10, 50] {
            for p1 in [0.2, 0.5, 0.8] {
                var s = ContractSetting(
                    participants: n, probabilities: [p1, 1 - p1], costs: [0.02, 0.01],
                    reservationUtilities: [55.2558920959, 64.1608119437])
                s.conditioning = .truncated
                let d = try ContractDesigner(s)
                let menu = try d.solve()
                checkInvariants(menu, d, label: "two-type N=\(n) p1=\(p1)")
                if abs(menu.rents[1]) < 1e-6 {
                    // Both IR binding: m_1 = (f_2 - f_1) / (c_1 - c_2).
                    XCTAssertEqual(menu.contributions[0], 890.4920, accuracy: 1e-3)
                    bothBinding += 1
                }
            }
        }
        XCTAssertGreaterThan(bothBinding, 0, "the grid must contain points where both IR constraints bind")
    }

    func testCallerOrderIsPreserved() throws {
        let s = ContractScenario.s1.setting
        let perm = [3, 0, 4, 1, 2]
        var shuffled = s
        shuffled.costs = perm.map { s.costs[$0] }
        shuffled.probabilities = perm.map { s.probabilities[$0] }
        let a = try ContractDesigner(s).solve(), b = try ContractDesigner(shuffled).solve()
        for (k, i) in perm.enumerated() { XCTAssertEqual(b.contributions[k], a.contributions[i], accuracy: 1e-9 * a.contributions[i]) }
    }

    func testSampledEstimatorAgreesWithTheExactOptimum() throws {
        let exact = try ContractDesigner(ContractScenario.s3.setting).solve(completeInformation: false)
        let d = try ContractDesigner(ContractScenario.s3.setting, sampledOutcomes: 50_000, seed: 7)
        let sampled = try d.solve(completeInformation: false)
        XCTAssertEqual(sampled.samples, 50_000)
        let se = try XCTUnwrap(sampled.expectedValueStandardError)
        XCTAssertGreaterThan(se, 0)
        XCTAssertEqual(sampled.expectedValue, exact.expectedValue, accuracy: 5 * se)
        checkInvariants(sampled, d, label: "sampled S3")
        // Same seed, same answer.
        let again = try ContractDesigner(ContractScenario.s3.setting, sampledOutcomes: 50_000, seed: 7).solve(completeInformation: false)
        XCTAssertEqual(again.contributions, sampled.contributions)
        // Weights are distributions.
        let o = try MultinomialOutcomes(trials: 10, probabilities: [0.5, 0.3, 0.2], sampling: 1000, seed: 3, conditioning: .sizeBiased)
        XCTAssertEqual(o.pmf.reduce(0, +), 1, accuracy: 1e-12)
        for i in 0..<3 { XCTAssertEqual(o.conditional.row(i).reduce(0, +), 1, accuracy: 1e-12) }
    }

    func testOtherAccuracyAndValuationFunctionsPlugIn() throws {
        // A concave valuation v(r) = 100 sqrt(r) and a saturating accuracy a(x) = 1 - exp(-x / 500).
        struct Saturating: AccuracyFunction {
            func evaluate(_ x: Double) -> (a: Double, da: Double, d2a: Double) {
                let e = Foundation.exp(-x / 500)
                return (1 - e, e / 500, -e / 250_000)
            }
        }
        struct SquareRoot: ValuationFunction {
            func evaluate(_ r: Double) -> (v: Double, dv: Double, d2v: Double) {
                let q = max(r, 1e-300).squareRoot()
                return (100 * q, 50 / q, -25 / (q * q * q))
            }
            func inverse(_ value: Double) -> Double { (value / 100) * (value / 100) }
        }
        let setting = ContractSetting(participants: 6, probabilities: [0.3, 0.3, 0.4], costs: [0.3, 0.2, 0.1])
        let d = try ContractDesigner(setting, accuracy: Saturating(), valuation: SquareRoot())
        let menu = try d.solve(checkFullProgram: true)
        checkInvariants(menu, d, label: "saturating/sqrt")
        XCTAssertEqual(menu.fullProgramValue!, menu.expectedValue, accuracy: 1e-6 * menu.expectedValue)
    }

    func testInfeasibleSettingIsReported() {
        // The low-cost type's outside option is worth more than any model the team can deliver.
        let s = ContractSetting(participants: 4, probabilities: [0.5, 0.5], costs: [0.02, 0.01], reservationUtilities: [0, 99.9])
        XCTAssertThrowsError(try ContractDesigner(s).solve()) { e in
            XCTAssertTrue("\(e)".contains("infeasible"), "\(e)")
        }
    }

    /// One type: everyone is that type (n = N e_1), so its IR binds and the budget is v(a(N m)); the
    /// objective grows with m, so m is the largest root of v(a(N m)) - c m = f, found here by
    /// bisection on the formula written out (an independent reference).
    func testOneTypeContributesTheLargestAffordableAmount() throws {
        let c = 0.5, n = 10.0
        let menu = try ContractDesigner(ContractSetting(participants: 10, probabilities: [1], costs: [c])).solve()
        func v(_ x: Double) -> Double {
            guard x > exp(-2) else { return 0 }
            return 100 * max(0, 1 - ((2 * (2 + log(x))).squareRoot() + 4) / x.squareRoot())
        }
        let f = menu.reservationUtilities[0]
        // g(m) = v(a(N m)) - c m - f is positive just past the stand-alone point and negative far out.
        var lo = max(menu.standAloneContributions[0], 10), hi = 1e7
        XCTAssertGreaterThan(v(n * lo) - c * lo - f, 0)
        for _ in 0..<200 {
            let mid = (lo + hi) / 2
            if v(n * mid) - c * mid - f > 0 { lo = mid } else { hi = mid }
        }
        XCTAssertEqual(menu.contributions[0], lo, accuracy: 1e-6 * lo)
        XCTAssertEqual(menu.utilities[0], f, accuracy: 1e-8 * max(1, f), "the IR binds")
        XCTAssertEqual(menu.values[0], v(n * lo), accuracy: 1e-6, "t = v(a(N m)): the whole budget")
        XCTAssertEqual(menu.rents[0], 0, accuracy: 1e-8)
        XCTAssertLessThan(menu.kktResidual, 1e-8)
        XCTAssertEqual(menu.informationCost, 0, accuracy: 1e-6, "one type: nothing hidden")
    }

    /// The largest menu accepted, 20 types (N = 3: 1540 outcomes): the invariants hold.
    func testTwentyTypesSolveWithTheInvariants() throws {
        let types = 20
        let costs = (0..<types).map { 0.02 + 0.01 * Double($0) }
        let menu = try ContractDesigner(
            ContractSetting(participants: 3, probabilities: [Double](repeating: 1.0 / Double(types), count: types), costs: costs)
        ).solve(completeInformation: false)
        XCTAssertLessThan(menu.kktResidual, 1e-8)
        let byCost = costs.indices.sorted { costs[$0] > costs[$1] }
        XCTAssertEqual(menu.utilities[byCost[0]], menu.reservationUtilities[byCost[0]], accuracy: 1e-8, "u_1 = f_1")
        for (a, b) in zip(byCost, byCost.dropFirst()) {
            XCTAssertGreaterThanOrEqual(menu.contributions[b], menu.contributions[a] - 1e-9, "m nondecreasing as cost falls")
            XCTAssertGreaterThanOrEqual(menu.utilities[b], menu.utilities[a] - 1e-9, "u nondecreasing as cost falls")
        }
        for i in 0..<types {
            XCTAssertGreaterThanOrEqual(menu.utilities[i], menu.reservationUtilities[i] - 1e-9, "IR of type \(i)")
            // Every pairwise IC: type i prefers its own contract.
            for j in 0..<types {
                XCTAssertGreaterThanOrEqual(
                    menu.utilities[i], menu.values[j] - costs[i] * menu.contributions[j] - 1e-7, "IC \(i) over \(j)")
            }
        }
    }

    func testBadInputIsRejectedWithTheField() {
        func expect(_ fragment: String, _ s: ContractSetting, line: UInt = #line) {
            XCTAssertThrowsError(try ContractDesigner(s), line: line) { e in
                XCTAssertTrue("\(e)".contains(fragment), "'\(e)' lacks '\(fragment)'", line: line)
            }
        }
        expect("p sums to 0.9", ContractSetting(participants: 10, probabilities: [0.5, 0.4], costs: [0.2, 0.1]))
        expect("c[1] = -0.1", ContractSetting(participants: 10, probabilities: [0.5, 0.5], costs: [0.2, -0.1]))
        expect("twice", ContractSetting(participants: 10, probabilities: [0.5, 0.5], costs: [0.2, 0.2]))
        expect("p has 3 entries but c has 2", ContractSetting(participants: 10, probabilities: [0.2, 0.3, 0.5], costs: [0.2, 0.1]))
        expect("N must be at least 2", ContractSetting(participants: 0, probabilities: [1], costs: [0.2]))
        expect("N = 1: a lone participant", ContractSetting(participants: 1, probabilities: [0.5, 0.5], costs: [0.2, 0.1]))
        expect(
            "at most 20",
            ContractSetting(
                participants: 3, probabilities: [Double](repeating: 1.0 / 21, count: 21), costs: (1...21).map { Double($0) / 100 }))
        expect(
            "f[0] = -1.0", ContractSetting(participants: 3, probabilities: [0.5, 0.5], costs: [0.2, 0.1], reservationUtilities: [-1, 0]))
        expect(
            "outcomes, more than the exact-enumeration limit",
            ContractSetting(participants: 200, probabilities: [Double](repeating: 0.125, count: 8), costs: (1...8).map { Double($0) / 10 }))
    }
}
