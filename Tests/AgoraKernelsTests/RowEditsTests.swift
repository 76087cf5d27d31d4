import AgoraKernels
import AgoraTestSupport
import Foundation
import XCTest

/// The row edits and optimiser steps that experiments apply between mechanism steps, each against a
/// naive element loop written here (the loops they replaced), bit for bit.
final class RowEditsTests: XCTestCase {
    func testScaleFillBroadcastCopyMatchNaiveLoops() throws {
        let x: Matrix<Float> = randomMatrix(5, 19, seed: 1)
        var a = x
        try Kernels.scaleRow(&a, row: 2, by: 3)
        try Kernels.fillRow(&a, row: 4, with: 0)
        for i in 0..<5 {
            for k in 0..<19 {
                let expected: Float = i == 2 ? 3 * x[i, k] : (i == 4 ? 0 : x[i, k])
                XCTAssertEqual(a[i, k], expected)
            }
        }
        let v = (0..<19).map { Float($0) / 7 }
        let mask = [true, false, true, false, false]
        var b = x
        try Kernels.broadcast(v, into: &b, rows: mask)
        var c = x
        try Kernels.copyRows(a, into: &c, rows: mask)
        for i in 0..<5 {
            for k in 0..<19 {
                XCTAssertEqual(b[i, k], mask[i] ? v[k] : x[i, k])
                XCTAssertEqual(c[i, k], mask[i] ? a[i, k] : x[i, k])
            }
        }
        try Kernels.broadcast(v, into: &b)
        XCTAssertEqual(b.storage, (0..<5).flatMap { _ in v })
    }

    func testNoiseAndAttacksMatchNaiveLoops() throws {
        let x: Matrix<Float> = randomMatrix(4, 23, seed: 2)
        let o = (0..<23).map { Float($0) / 100 }
        // Noise: the same stream, element order, rounding to Float before the add, Double norm.
        var y = x
        var g1 = SeededGenerator(seed: 5, stream: 3), g2 = g1
        let sq = try Kernels.addGaussianNoise(&y, row: 1, sigma: 0.3, rng: &g1)
        var naive = x.row(1), naiveSq = 0.0
        for k in 0..<23 {
            naive[k] = naive[k] + Float(0.3 * g2.normal())
            naiveSq += Double(naive[k]) * Double(naive[k])
        }
        XCTAssertEqual(y.row(1), naive)
        XCTAssertEqual(sq, naiveSq)
        XCTAssertEqual(g1, g2, "the stream advances exactly once per element")
        // Rebasing (reflection about the origin, a move to another base), gathering (a shuffle),
        // Gaussian around the origin; against the element formulas.
        var u = x
        try Kernels.rebaseRow(&u, row: 0, origin: o, scale: -1, base: o)
        let perm = Array((0..<23).reversed())
        try Kernels.gatherRow(x, row: 2, indices: perm, into: &u)
        let base = (0..<23).map { Float($0) * 0.5 }
        try Kernels.rebaseRow(&u, row: 3, origin: o, scale: 2.5, base: base)
        for k in 0..<23 {
            XCTAssertEqual(u[0, k], o[k] - (x[0, k] - o[k]), "reflection: o + (-1)(x - o) is o - (x - o) exactly")
            XCTAssertEqual(u[2, k], x[2, perm[k]])
            XCTAssertEqual(u[3, k], base[k] + 2.5 * (x[3, k] - o[k]))
            XCTAssertEqual(u[1, k], x[1, k], "rows not named are untouched")
        }
        var h1 = SeededGenerator(seed: 9), h2 = h1
        try Kernels.setRowToGaussian(&u, row: 1, around: o, sigma: 0.01, rng: &h1)
        for k in 0..<23 { XCTAssertEqual(u[1, k], o[k] + Float(0.01 * h2.normal())) }
    }

    func testBadRowsAndShapesAreErrors() {
        var x = Matrix<Float>(rows: 3, cols: 4)
        XCTAssertThrowsError(try Kernels.scaleRow(&x, row: 3, by: 2)) { XCTAssertEqual(($0 as? AgoraError)?.kind, .shape) }
        XCTAssertThrowsError(try Kernels.fillRow(&x, row: -1, with: 0))
        XCTAssertThrowsError(try Kernels.broadcast([1, 2], into: &x))
        XCTAssertThrowsError(try Kernels.broadcast([1, 2, 3, 4], into: &x, rows: [true]))
        var y = x
        XCTAssertThrowsError(try Kernels.gatherRow(x, row: 0, indices: [0, 1, 2, 4], into: &y))
        XCTAssertThrowsError(try Kernels.rebaseRow(&x, row: 0, origin: [0, 0, 0], scale: 1, base: [0, 0, 0, 0]))
        XCTAssertThrowsError(try Kernels.rowDistances(x, to: [0]))
    }

    func testRowDistancesAndNonFiniteRows() throws {
        let x: Matrix<Float> = randomMatrix(6, 31, seed: 3)
        let r = (0..<31).map { Double($0) / 31 }
        let d = try withThreads(2) { try Kernels.rowDistances(x, to: r) }
        for i in 0..<6 {
            var s = 0.0
            for k in 0..<31 {
                let e = Double(x[i, k]) - r[k]
                s += e * e
            }
            XCTAssertEqual(d[i], s.squareRoot())
        }
        XCTAssertNil(Kernels.firstNonFiniteRow(x))
        var y = x
        y[4, 30] = .nan
        y[5, 0] = .infinity
        XCTAssertEqual(Kernels.firstNonFiniteRow(y), 4)
    }

    func testMomentumStepMatchesTheRecurrenceOnAnyThreadCount() throws {
        let g: Matrix<Float> = randomMatrix(7, 40, seed: 4)
        let start: Matrix<Float> = randomMatrix(7, 40, seed: 5)
        let mask = [true, true, false, true, false, true, true]
        for (mu, wd) in [(Float(0), Float(0)), (0.9, 1e-3)] {
            var results: [[Float]] = []
            for threads in [1, 2] {
                var theta = start, v = Matrix<Float>(rows: 7, cols: 40)
                try withThreads(threads) {
                    for _ in 0..<3 {
                        try Kernels.momentumStep(
                            &theta, velocity: &v, gradients: g, learningRate: 0.1, momentum: mu, weightDecay: wd, rows: mask)
                    }
                }
                results.append(theta.storage)
            }
            XCTAssertEqual(results[0], results[1])
            // The recurrence written out.
            var theta = start.storage, v = [Float](repeating: 0, count: 280)
            for _ in 0..<3 {
                for k in 0..<280 where mask[k / 40] {
                    let gk = g.storage[k] + wd * theta[k]
                    let vk = mu == 0 ? gk : mu * v[k] + gk
                    v[k] = vk
                    theta[k] -= 0.1 * vk
                }
            }
            XCTAssertEqual(results[0], theta)
        }
    }

    func testWeightedGramMatchesTheDefinitionDenseAndSparse() throws {
        var g = SeededGenerator(seed: 6)
        let (dense, sparse) = randomDenseAndSparse(rows: 30, cols: 9, density: 0.5, &g)
        let w = (0..<30).map { _ in g.uniform() }
        for x in [FeatureRows<Double>.dense(dense), .sparse(sparse)] {
            let h = try Kernels.weightedGram(x, rowWeights: w, divisor: 30, ridge: 0.5)
            for a in 0..<9 {
                for b in 0..<9 {
                    var s = 0.0
                    for i in 0..<30 { s += w[i] * dense[i, a] * dense[i, b] }
                    XCTAssertEqual(h[a, b], s / 30 + (a == b ? 0.5 : 0), accuracy: 1e-14)
                }
            }
        }
        XCTAssertThrowsError(try Kernels.weightedGram(.dense(dense), rowWeights: [1], divisor: 1, ridge: 0))
    }

    /// Both dense paths against the definition summed here: rank-one updates in fixed row ranges
    /// (up to `smallGramWidth` columns: widths 7 and 20, padded to 8 and 24, with a row count that
    /// leaves a remainder of the four-row step) and the blocked dgemm (70 columns: three blocks),
    /// plus the row loop a negative weight sends the dgemm path to. Exactly symmetric, and the same
    /// on 1 and 2 threads.
    func testWeightedGramOverSeveralBlocksAndWithANegativeWeight() throws {
        for (rows, d) in [(9000, 7), (9001, 20), (9000, 70)] {
            var g = SeededGenerator(seed: 9)
            let x: Matrix<Double> = randomMatrix(rows, d, seed: 10)
            var w = (0..<rows).map { _ in g.uniform() }
            for negative in [false, true] {
                if negative { w[17] = -0.25 }
                let one = try withThreads(1) { try Kernels.weightedGram(.dense(x), rowWeights: w, divisor: Double(rows), ridge: 0.1) }
                let two = try withThreads(2) { try Kernels.weightedGram(.dense(x), rowWeights: w, divisor: Double(rows), ridge: 0.1) }
                XCTAssertEqual(one, two, "\(d) columns")
                for a in 0..<d {
                    for b in 0..<d {
                        var s = 0.0
                        for i in 0..<rows { s += w[i] * x[i, a] * x[i, b] }
                        XCTAssertEqual(
                            one[a, b], s / Double(rows) + (a == b ? 0.1 : 0), accuracy: 1e-13, "\(d) columns, negative weight: \(negative)")
                        XCTAssertEqual(one[a, b], one[b, a])
                    }
                }
            }
            // Float rows are read as Double exactly: the same matrix as their Double copy.
            let xf = try Matrix<Float>(rows: rows, cols: d, storage: x.storage.map { Float($0) })
            let xd = try Matrix<Double>(rows: rows, cols: d, storage: xf.storage.map { Double($0) })
            XCTAssertEqual(
                try Kernels.weightedGram(.dense(xf), rowWeights: w, divisor: 3, ridge: 0),
                try Kernels.weightedGram(.dense(xd), rowWeights: w, divisor: 3, ridge: 0), "\(d) columns, Float rows")
        }
    }

    func testUpperTrianglePairs() {
        let pairs = Kernels.upperTrianglePairs(4)
        XCTAssertEqual(
            pairs.map { [$0.0, $0.1] }, [[0, 0], [0, 1], [0, 2], [0, 3], [1, 1], [1, 2], [1, 3], [2, 2], [2, 3], [3, 3]])
        XCTAssertTrue(Kernels.upperTrianglePairs(0).isEmpty)
    }

    /// The fused values and first moments against naive sums, with and without f1, across block
    /// (128) and span (8192) boundaries and weight-row counts that are not multiples of 3, and
    /// independent of the thread count.
    func testWeightedMomentsMatchNaiveSumsAndIgnoreThreadCount() throws {
        for (rows, k, h) in [(1, 1, 1), (37, 3, 2), (1300, 8, 9), (600, 5, 4), (17_000, 4, 3)] {
            let xt: Matrix<Double> = randomMatrix(k, rows, seed: UInt64(rows))
            let w: Matrix<Double> = randomMatrix(h, rows, seed: UInt64(rows + 1))
            let f: Matrix<Double> = randomMatrix(2, rows, seed: UInt64(rows + 2))
            let f0 = f.row(0), f1 = f.row(1)
            let one = try withThreads(1) { try Kernels.weightedMoments(columns: xt, weights: w, f0: f0, f1: f1) }
            let two = try withThreads(2) { try Kernels.weightedMoments(columns: xt, weights: w, f0: f0, f1: f1) }
            XCTAssertEqual(one, two, "rows \(rows): thread count changed the sums")
            let values = try withThreads(2) { try Kernels.weightedMoments(columns: xt, weights: w, f0: f0) }
            XCTAssertEqual(one.cols, 1 + k)
            XCTAssertEqual(values.cols, 1)
            func check(_ got: Double, _ terms: (Int) -> Double, _ what: String) {
                var naive = 0.0, scale = 0.0
                for r in 0..<rows {
                    let v = terms(r)
                    naive += v
                    scale += abs(v)
                }
                XCTAssertEqual(got, naive, accuracy: 1e-13 * max(1, scale), "rows \(rows), \(what)")
            }
            for hh in 0..<h {
                check(one[hh, 0], { w[hh, $0] * f0[$0] }, "row \(hh) value")
                XCTAssertEqual(values[hh, 0], one[hh, 0], "the values-only path sums in the same order")
                for a in 0..<k { check(one[hh, 1 + a], { w[hh, $0] * f1[$0] * xt[a, $0] }, "row \(hh) first moment \(a)") }
            }
        }
        let x = Matrix<Double>(rows: 2, cols: 4)
        XCTAssertThrowsError(try Kernels.weightedMoments(columns: x, weights: Matrix<Double>(rows: 1, cols: 3), f0: [0, 0, 0, 0]))
        XCTAssertThrowsError(try Kernels.weightedMoments(columns: x, weights: Matrix<Double>(rows: 1, cols: 4), f0: [0]))
        XCTAssertThrowsError(
            try Kernels.weightedMoments(
                columns: x, weights: Matrix<Double>(rows: 2, cols: 4), f0: [0, 0, 0, 0],
                f1: [0, 0, 0, 0], f2: [0, 0, 0, 0], combiningPairsWith: [1]), "one coefficient per weight row")
    }

    /// The pair block for one combination of the weight rows (what a Newton step needs) against the
    /// naive sum, the per-row block identical to the uncombined kernel's, and thread-count independent.
    func testCombinedPairMomentsMatchNaiveSums() throws {
        for (rows, k, h) in [(1, 1, 1), (300, 3, 2), (9000, 8, 9), (20_000, 5, 4)] {
            let xt: Matrix<Double> = randomMatrix(k, rows, seed: UInt64(rows + 7))
            let w: Matrix<Double> = randomMatrix(h, rows, seed: UInt64(rows + 8))
            let f: Matrix<Double> = randomMatrix(3, rows, seed: UInt64(rows + 9))
            let c = (0..<h).map { Double($0) - 1.5 }
            let one = try withThreads(1) {
                try Kernels.weightedMoments(columns: xt, weights: w, f0: f.row(0), f1: f.row(1), f2: f.row(2), combiningPairsWith: c)
            }
            let two = try withThreads(2) {
                try Kernels.weightedMoments(columns: xt, weights: w, f0: f.row(0), f1: f.row(1), f2: f.row(2), combiningPairsWith: c)
            }
            XCTAssertEqual(one.perRow, two.perRow)
            XCTAssertEqual(one.pairs, two.pairs)
            XCTAssertEqual(
                one.perRow, try Kernels.weightedMoments(columns: xt, weights: w, f0: f.row(0), f1: f.row(1)),
                "rows \(rows): values and first moments as without the combination")
            for (q, (a, b)) in Kernels.upperTrianglePairs(k).enumerated() {
                var naive = 0.0, scale = 0.0
                for r in 0..<rows {
                    var cw = 0.0
                    for hh in 0..<h { cw += c[hh] * w[hh, r] }
                    let v = cw * f[2, r] * xt[a, r] * xt[b, r]
                    naive += v
                    scale += abs(v)
                }
                XCTAssertEqual(one.pairs[q], naive, accuracy: 1e-13 * max(1, scale), "rows \(rows), pair (\(a), \(b))")
            }
        }
    }

    func testRowCombinationMatchesNaiveSumsAndIgnoresThreadCount() throws {
        let x: Matrix<Double> = randomMatrix(5, 70_001, seed: 3)
        let m = [0.5, -2, 3, 0.25, 1e3]
        let one = try withThreads(1) { try Kernels.rowCombination(x, coefficients: m) }
        let two = try withThreads(2) { try Kernels.rowCombination(x, coefficients: m) }
        XCTAssertEqual(one, two)
        for o in stride(from: 0, to: x.cols, by: 331) {
            var naive = 0.0
            for a in 0..<5 { naive += m[a] * x[a, o] }
            XCTAssertEqual(one[o], naive, "column \(o): the same sum in the same order")
        }
        XCTAssertThrowsError(try Kernels.rowCombination(x, coefficients: [1]))
    }

    /// fastLog against glibc's log over the whole positive normal range: within 1 ulp (fdlibm's bound).
    func testFastLogIsWithinOneUlpOfLibm() {
        var rng = SeededGenerator(seed: 5)
        var inputs: [Double] = [
            1, 2, 0.5, .leastNormalMagnitude, .greatestFiniteMagnitude, 1 + .ulpOfOne, 1 - .ulpOfOne / 2, 0.7071067811865476,
            1.4142135623730951,
        ]
        for _ in 0..<200_000 { inputs.append(exp(Double.random(in: -708...709, using: &rng))) }
        for _ in 0..<20_000 { inputs.append(Double.random(in: 0.5...2, using: &rng)) }
        for x in inputs {
            let got = Kernels.fastLog(positiveNormal: x), want = log(x)
            if want == 0 {
                XCTAssertEqual(got, 0, "log(1)")
                continue
            }
            let err = abs(got - want) / want.ulp
            XCTAssertLessThanOrEqual(err, 1, "log(\(x)): \(got) vs libm \(want)")
        }
    }

    /// fastExp against glibc's exp over its whole range [-708, 709] (uniform draws, plus the
    /// edges, values near 0 and near multiples of ln 2/2 where the reduction switches k), at most
    /// 1 ulp; inputs beyond the range clamp to its ends.
    func testFastExpIsWithinOneUlpOfLibmOverItsRange() {
        var rng = SeededGenerator(seed: 6)
        var inputs: [Double] = [0, -0.0, 1, -1, -708, 709, 1e-300, -1e-300, 0.34657359027997264, -0.34657359027997264, 700, -700]
        for _ in 0..<300_000 { inputs.append(Double.random(in: -708...709, using: &rng)) }
        for _ in 0..<50_000 { inputs.append(Double.random(in: -1...1, using: &rng)) }
        for k in -2040...2040 { inputs.append(Double(k) * 0.34657359027997264 + Double.random(in: -1e-9...1e-9, using: &rng)) }
        var worst = 0.0
        for x in inputs where x >= -708 && x <= 709 {
            let got = Kernels.fastExp(x), want = exp(x)
            let err = abs(got - want) / want.ulp
            worst = max(worst, err)
            XCTAssertLessThanOrEqual(err, 1, "exp(\(x)): \(got) vs libm \(want)")
        }
        XCTAssertLessThan(worst, 1.0001)
        XCTAssertTrue(Kernels.fastExp(.nan).isNaN, "a NaN gives NaN (it used to trap in an integer conversion)")
        XCTAssertTrue(Kernels.fastExp(SIMD8<Double>(repeating: .nan))[0].isNaN)
        XCTAssertEqual(Kernels.fastExp(-1000), Kernels.fastExp(-708), "clamped below")
        XCTAssertEqual(Kernels.fastExp(1000), Kernels.fastExp(709), "clamped above")
        XCTAssertGreaterThan(Kernels.fastExp(-1000), 0)
    }

    /// fastLog1p against glibc's log1p on [0, 1] (uniform, log-uniform down to 1e-300, and the
    /// edges): at most 1.5 ulp. And the logistic loss and its derivative built on them against the
    /// textbook formulas through libm, over margins from -800 to 800 (relative 1e-15, or absolute
    /// 1e-300 where the value underflows).
    func testFastLog1pAndTheLogisticLossAgreeWithLibm() {
        var rng = SeededGenerator(seed: 7)
        var inputs: [Double] = [0, 1, .leastNormalMagnitude, 1e-300, 1e-17, 1e-16, 2.220446049250313e-16, 0.5]
        for _ in 0..<200_000 { inputs.append(Double.random(in: 0...1, using: &rng)) }
        for _ in 0..<100_000 { inputs.append(exp(Double.random(in: -690...0, using: &rng))) }
        for t in inputs {
            let got = Kernels.fastLog1p(unit: t), want = log1p(t)
            if want == 0 {
                XCTAssertEqual(got, 0)
                continue
            }
            XCTAssertLessThanOrEqual(abs(got - want) / want.ulp, 1.5, "log1p(\(t)): \(got) vs libm \(want)")
        }
        for _ in 0..<100_000 {
            let z = Double.random(in: -800...800, using: &rng), y: Double = Bool.random(using: &rng) ? 1 : -1
            let (l, dz) = GLMLoss.logistic.evaluate(z, y)
            let m = -y * z
            let lossRef = max(m, 0) + log1p(exp(-abs(m)))
            let dRef = -y / (1 + exp(y * z))
            XCTAssertEqual(l, lossRef, accuracy: max(1e-15 * abs(lossRef), 1e-300), "loss at z = \(z), y = \(y)")
            XCTAssertEqual(dz, dRef, accuracy: max(2e-15 * abs(dRef), 1e-300), "derivative at z = \(z), y = \(y)")
            XCTAssertEqual(GLMLoss.logistic.derivative(z, y), dz, "one formula for both entry points")
        }
    }

    /// The eight-lane exponential and logarithm equal the scalar functions lane by lane, bit for
    /// bit (what lets the loss kernels vectorise without changing a sum).
    func testEightLaneExpAndLogEqualTheScalarFunctions() {
        var rng = SeededGenerator(seed: 8)
        for _ in 0..<20_000 {
            var x = SIMD8<Double>(), u = SIMD8<Double>()
            for q in 0..<8 {
                x[q] = Double.random(in: -720...720, using: &rng)
                u[q] = exp(Double.random(in: -700...700, using: &rng))
            }
            if Bool.random(using: &rng) { x[3] = -0.0 }
            let e = Kernels.fastExp(x), l = Kernels.fastLog(positiveNormal: u)
            for q in 0..<8 {
                XCTAssertEqual(e[q].bitPattern, Kernels.fastExp(x[q]).bitPattern, "exp(\(x[q]))")
                XCTAssertEqual(l[q].bitPattern, Kernels.fastLog(positiveNormal: u[q]).bitPattern, "log(\(u[q]))")
            }
        }
    }

    /// mapLanes8 at every tail length: each output is the body's lane formula for its own inputs
    /// (compared with the scalar formula), nothing beyond `count` is written, and the second
    /// input may be the third output (the scratch use in the contract's accuracy function).
    func testMapLanes8CoversEveryTailAndAllowsScratchAliasing() {
        for n in 0...19 {
            let x = (0..<n).map { Double($0) * 0.37 - 1 }, y = (0..<n).map { Double($0 * $0) * 0.11 + 0.5 }
            var o0 = [Double](repeating: .nan, count: n + 3), o1 = o0, o2 = o0
            var scratch = y + [Double](repeating: -7, count: 3)
            x.withUnsafeBufferPointer { xb in
                y.withUnsafeBufferPointer { yb in
                    o0.withUnsafeMutableBufferPointer { b0 in
                        o1.withUnsafeMutableBufferPointer { b1 in
                            o2.withUnsafeMutableBufferPointer { b2 in
                                let xp = xb.baseAddress ?? UnsafePointer(b0.baseAddress!),
                                    yp = yb.baseAddress ?? UnsafePointer(b0.baseAddress!)
                                Kernels.mapLanes8(count: n, xp, yp, padding: 1, into: b0.baseAddress!, b1.baseAddress!, b2.baseAddress!) {
                                    u, v in
                                    (u + v, u * v, (u - v) / v)
                                }
                            }
                        }
                    }
                }
            }
            scratch.withUnsafeMutableBufferPointer { sb in
                x.withUnsafeBufferPointer { xb in
                    let xp = xb.baseAddress ?? UnsafePointer(sb.baseAddress!)
                    var a = [Double](repeating: 0, count: n + 1), b = a
                    a.withUnsafeMutableBufferPointer { ab in
                        b.withUnsafeMutableBufferPointer { bb in
                            Kernels.mapLanes8(
                                count: n, xp, UnsafePointer(sb.baseAddress!), into: ab.baseAddress!, bb.baseAddress!, sb.baseAddress!
                            ) { u, v in
                                (u + v, u * v, u - v)
                            }
                        }
                    }
                }
            }
            for i in 0..<n {
                XCTAssertEqual(o0[i], x[i] + y[i], "n \(n) element \(i)")
                XCTAssertEqual(o1[i], x[i] * y[i], "n \(n) element \(i)")
                XCTAssertEqual(o2[i], (x[i] - y[i]) / y[i], "n \(n) element \(i)")
                XCTAssertEqual(scratch[i], x[i] - y[i], "aliased scratch, n \(n) element \(i)")
            }
            XCTAssertTrue(
                o0[n...].allSatisfy(\.isNaN) && o1[n...].allSatisfy(\.isNaN) && o2[n...].allSatisfy(\.isNaN), "wrote past count \(n)")
            XCTAssertEqual(Array(scratch[n...]), [-7, -7, -7], "wrote past count \(n) (aliased)")
        }
    }

    func testMap4ChunksIsElementwiseAndIgnoresThreadCount() {
        let x = (0..<70_000).map { Double($0) * 0.001 - 3 }
        let body:
            (
                UnsafeBufferPointer<Double>, UnsafeMutablePointer<Double>, UnsafeMutablePointer<Double>,
                UnsafeMutablePointer<Double>, UnsafeMutablePointer<Double>
            ) -> Void = { xs, o0, o1, o2, o3 in
                for i in xs.indices {
                    o0[i] = xs[i] * xs[i]
                    o1[i] = exp(xs[i])
                    o2[i] = -xs[i]
                    o3[i] = 1
                }
            }
        let one = withThreads(1) { Kernels.map4Chunks(x, body) }, two = withThreads(2) { Kernels.map4Chunks(x, body) }
        XCTAssertEqual(one.0, two.0)
        XCTAssertEqual(one.1, two.1)
        XCTAssertEqual(one.2, two.2)
        XCTAssertEqual(one.3, two.3)
        for i in stride(from: 0, to: x.count, by: 997) {
            XCTAssertEqual(one.0[i], x[i] * x[i])
            XCTAssertEqual(one.1[i], exp(x[i]))
            XCTAssertEqual(one.2[i], -x[i])
            XCTAssertEqual(one.3[i], 1)
        }
        XCTAssertEqual(Kernels.map4Chunks([], body).0, [])
    }

    func testErrorDescriptionsNameWhereTheProblemIs() {
        XCTAssertEqual(
            AgoraError.data(file: "a.svm", line: 3, column: 7, "expected INDEX:VALUE").description, "a.svm:3:7: expected INDEX:VALUE")
        XCTAssertEqual(AgoraError.configuration("must be positive", field: "market.eta").description, "market.eta: must be positive")
        XCTAssertEqual(AgoraError.shape("2 x 3 and 3 x 2").description, "2 x 3 and 3 x 2")
        XCTAssertEqual(AgoraError.io("truncated", file: "c.json").kind, .io)
    }

    /// The pool's default size is the CPU affinity mask's count; the kernel also reports that mask
    /// in /proc/self/status (Cpus_allowed, hexadecimal words), an independent reference.
    func testThreadPoolSizeFollowsTheAffinityMask() throws {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed:") })
        else {
            throw XCTSkip("no /proc/self/status (not Linux)")
        }
        let hex = line.dropFirst("Cpus_allowed:".count).filter { $0.isHexDigit }
        let count = hex.reduce(0) { $0 + (Int(String($1), radix: 16) ?? 0).nonzeroBitCount }
        XCTAssertEqual(ThreadPool.availableProcessors, count)
    }
}
