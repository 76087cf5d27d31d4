import AgoraTestSupport
import XCTest

@testable import AgoraKernels

final class MixingTests: XCTestCase {
    func checkSparseMix<T: AgoraScalar>(_: T.Type) throws {
        for (idx, s) in testShapes.enumerated() {
            let w: CSRMatrix<T> = randomCSR(s.n, seed: UInt64(idx))
            let x: Matrix<T> = randomMatrix(s.n, s.d, seed: 100 + UInt64(idx))
            let op = try MixingOperator(w, strategy: .sparse)
            var y1 = Matrix<T>(rows: s.n, cols: s.d, repeating: 7)
            var y2 = Matrix<T>(rows: s.n, cols: s.d, repeating: 9)
            try withThreads(1) { try Kernels.mix(op, x, into: &y1) }
            try withThreads(2) { try Kernels.mix(op, x, into: &y2) }
            assertClose(y1.storage, naiveMix(w, x), rel: tol(T.self))
            XCTAssertEqual(y1, y2, "1 and 2 threads must agree bit for bit (n \(s.n), d \(s.d))")
        }
    }
    /// Row lengths that put every neighbour row at the same 4 KiB offset (d = 1024, 2048 floats;
    /// 512, 1024 doubles) take the grouped kernel for rows of more than 12 entries: same numbers, bit for bit, as a
    /// plain neighbour sum in list order (mul then add, as the kernels do), with step and
    /// directions, on 1 and 2 threads.
    func testAliasedRowLengthsGiveTheListOrderSum() throws {
        // The routing: 4 KiB-multiple rows group rows of more than 12 entries; d = 1000 floats
        // (4000 B, 128 distinct offsets) and 500 doubles do not.
        XCTAssertEqual([4096, 8192, 4000, 2048, 1 << 20].map { Kernels.groupedMixDegree(rowBytes: $0) }, [12, 12, 128, 12, 12])
        try checkAliasedRows(Float.self, [(1024, 40), (2048, 33), (1000, 40)])
        try checkAliasedRows(Double.self, [(512, 40), (1024, 33), (500, 40)])
    }

    func checkAliasedRows<T: AgoraScalar>(_: T.Type, _ shapes: [(d: Int, n: Int)]) throws {
        for (d, n) in shapes {
            // 0 and 3...24 entries per row (above 12 the grouped kernel at 4 KiB-multiple rows;
            // its last group of 1 to 4 neighbours all occur).
            var g = SeededGenerator(seed: UInt64(d))
            let entries: [[(Int, T)]] = (0..<n).map { i in
                i % 9 == 8 ? [] : (0..<(3 + i % 22)).map { t in ((i + 1 + 7 * t) % n, T(g.uniform() - 0.3)) }
            }
            let w = try CSRMatrix<T>(rows: n, cols: n, entries: entries)
            let x: Matrix<T> = randomMatrix(n, d, seed: 9), m: Matrix<T> = randomMatrix(n, d, seed: 10)
            let lr = (0..<n).map { T($0 % 4) * T(0.125) }
            let op = try MixingOperator(w, strategy: .sparse)
            var reference = [T](repeating: 0, count: n * d)
            for i in 0..<n {
                for c in 0..<d {
                    var acc: T = 0
                    for e in w.rowStart[i]..<w.rowStart[i + 1] { acc += w.values[e] * x.storage[Int(w.columns[e]) * d + c] }
                    reference[i * d + c] = acc - lr[i] * m.storage[i * d + c]
                }
            }
            var y1 = Matrix<T>(rows: n, cols: d, repeating: 1), y2 = Matrix<T>(rows: n, cols: d, repeating: 2)
            try withThreads(1) { try Kernels.mixStep(op, x, stepSizes: lr, directions: m, into: &y1) }
            try withThreads(2) { try Kernels.mixStep(op, x, stepSizes: lr, directions: m, into: &y2) }
            XCTAssertEqual(y1.storage, reference, "\(T.self), d \(d): the kernel's sums must be the list-order sums")
            XCTAssertEqual(y1, y2, "\(T.self), d \(d): 1 and 2 threads")
        }
    }

    /// Several column tiles: the parallel parts are (tile, row block) cells, one row block per
    /// thread. On pools of 1, 2 and 3 threads (7 rows: uneven blocks, one of them short) every
    /// element must be the list-order sum, bit for bit the same on every pool.
    func testColumnTiledCellsOnAnyThreadCount() throws {
        let n = 7, d = 200_003
        XCTAssertGreaterThan(d, Kernels.sparseMixTile(agents: n, cols: d, Float.self), "the case must span several tiles")
        let entries: [[(Int, Float)]] = (0..<n).map { i in [(i, 0.5), ((i + 3) % n, 0.25), ((i + 5) % n, 0.125)] }
        let w = try CSRMatrix<Float>(rows: n, cols: n, entries: entries)
        let x: Matrix<Float> = randomMatrix(n, d, seed: 41)
        let op = try MixingOperator(w, strategy: .sparse)
        var answers: [Matrix<Float>] = []
        for threads in 1...3 {
            let pool = ThreadPool(maxThreads: threads)
            var y = Matrix<Float>(rows: n, cols: d, repeating: 3)
            for _ in 0..<3 { try Kernels.mix(op, x, into: &y, pool: pool) }  // the measured choice may run it either way
            answers.append(y)
        }
        for c in Array(stride(from: 0, to: d, by: 1009)) + Array((d - 20)..<d) {
            for i in 0..<n {
                var e: Float = 0
                for k in w.rowStart[i]..<w.rowStart[i + 1] { e += w.values[k] * x[Int(w.columns[k]), c] }
                XCTAssertEqual(answers[0][i, c], e, "row \(i) column \(c)")
            }
        }
        XCTAssertEqual(answers[0], answers[1], "1 and 2 threads")
        XCTAssertEqual(answers[0], answers[2], "1 and 3 threads")
    }

    func testSparseMixFloat() throws { try checkSparseMix(Float.self) }
    func testSparseMixDouble() throws { try checkSparseMix(Double.self) }

    /// The MPI back-end's split source (own rows in place, received rows elsewhere) against the
    /// naive product on the combined matrix, and bit for bit against the contiguous kernel.
    func testSplitRowSourceMatchesTheCombinedMatrix() throws {
        for (idx, s) in testShapes.enumerated() where s.n >= 3 {
            let w: CSRMatrix<Float> = randomCSR(s.n, seed: 50 + UInt64(idx))
            let x: Matrix<Float> = randomMatrix(s.n, s.d, seed: 500 + UInt64(idx))
            let m: Matrix<Float> = randomMatrix(s.n, s.d, seed: 600 + UInt64(idx))
            let lr = (0..<s.n).map { Float($0 % 3) * 0.25 }
            let lo = s.n / 3, hi = 2 * s.n / 3  // the "own" block, in the middle
            let local = Array(x.storage[(lo * s.d)..<(hi * s.d)])
            let remote = Array(x.storage[..<(lo * s.d)] + x.storage[(hi * s.d)...]) + [0]
            var contiguous = [Float](repeating: 1, count: s.n * s.d), split = [Float](repeating: 2, count: s.n * s.d)
            x.storage.withUnsafeBufferPointer { xb in
                m.storage.withUnsafeBufferPointer { mb in
                    Kernels.mixRows(w, x: xb.baseAddress!, cols: s.d, into: &contiguous, stepSizes: lr, directions: mb.baseAddress!)
                    local.withUnsafeBufferPointer { lb in
                        remote.withUnsafeBufferPointer { rb in
                            Kernels.mixRows(
                                w, local: lb.baseAddress ?? rb.baseAddress!, localOffset: lo, localRows: hi - lo, remote: rb.baseAddress!,
                                cols: s.d, into: &split, stepSizes: lr, directions: mb.baseAddress!)
                        }
                    }
                }
            }
            assertClose(split, naiveMix(w, x, lr: lr, m: m), rel: tol(Float.self))
            XCTAssertEqual(split, contiguous, "split and contiguous sources must agree bit for bit (n \(s.n), d \(s.d))")
        }
    }

    func checkDenseMix<T: AgoraScalar>(_: T.Type) throws {
        for (idx, s) in testShapes.enumerated() {
            let w: CSRMatrix<T> = randomCSR(s.n, seed: 7 + UInt64(idx))
            let x: Matrix<T> = randomMatrix(s.n, s.d, seed: 200 + UInt64(idx))
            let op = try MixingOperator(w, strategy: .dense)
            XCTAssertTrue(op.usesGEMM)
            var y = Matrix<T>(rows: s.n, cols: s.d, repeating: 3)
            try Kernels.mix(op, x, into: &y)
            assertClose(y.storage, naiveMix(w, x), rel: 10 * tol(T.self))
        }
    }
    func testDenseMixFloat() throws { try checkDenseMix(Float.self) }
    func testDenseMixDouble() throws { try checkDenseMix(Double.self) }

    func checkFused<T: AgoraScalar>(_: T.Type) throws {
        for (idx, s) in testShapes.enumerated() {
            let w: CSRMatrix<T> = randomCSR(s.n, seed: 11 + UInt64(idx))
            let x: Matrix<T> = randomMatrix(s.n, s.d, seed: 300 + UInt64(idx))
            let m: Matrix<T> = randomMatrix(s.n, s.d, seed: 400 + UInt64(idx))
            let lr = (0..<s.n).map { T(0.1) * T($0 + 1) }
            let expect = naiveMix(w, x, lr: lr, m: m)
            for strategy in [MixStrategy.sparse, .dense] {
                let op = try MixingOperator(w, strategy: strategy)
                var y1 = Matrix<T>(rows: s.n, cols: s.d), y2 = Matrix<T>(rows: s.n, cols: s.d)
                try withThreads(1) { try Kernels.mixStep(op, x, stepSizes: lr, directions: m, into: &y1) }
                try withThreads(2) { try Kernels.mixStep(op, x, stepSizes: lr, directions: m, into: &y2) }
                assertClose(y1.storage, expect, rel: 10 * tol(T.self))
                XCTAssertEqual(y1, y2, "\(strategy) fused update must not depend on threads")
            }
        }
    }
    func testFusedUpdateFloat() throws { try checkFused(Float.self) }
    func testFusedUpdateDouble() throws { try checkFused(Double.self) }

    /// Outputs of 64 MiB and more are written with streaming stores; an odd row length makes some
    /// rows 16-byte aligned (streamed) and others not (ordinary stores): both must give the
    /// reference numbers, on 1 and 2 threads alike.
    func testStreamingStoresOnLargeOutputs() throws {
        let n = 16, d = (1 << 20) + 3  // 16 x 1048579 Floats = 64 MiB + 192 bytes
        let w: CSRMatrix<Float> = randomCSR(n, seed: 5)
        let x: Matrix<Float> = randomMatrix(n, d, seed: 6)
        let m: Matrix<Float> = randomMatrix(n, d, seed: 7)
        let lr = (0..<n).map { Float(0.01) * Float($0 + 1) }
        let op = try MixingOperator(w, strategy: .sparse)
        var y1 = Matrix<Float>(rows: n, cols: d), y2 = Matrix<Float>(rows: n, cols: d)
        try withThreads(1) { try Kernels.mixStep(op, x, stepSizes: lr, directions: m, into: &y1) }
        try withThreads(2) { try Kernels.mixStep(op, x, stepSizes: lr, directions: m, into: &y2) }
        XCTAssertEqual(y1, y2)
        // Every row (streamed or not), a sample of columns including each row's unaligned tail.
        let columns = Array(stride(from: 0, to: d, by: 997)) + Array((d - 40)..<d)
        for i in 0..<n {
            for c in columns {
                var e = -Double(lr[i]) * Double(m[i, c])
                for k in w.rowStart[i]..<w.rowStart[i + 1] { e += Double(w.values[k]) * Double(x[Int(w.columns[k]), c]) }
                XCTAssertEqual(Double(y1[i, c]), e, accuracy: 1e-5 * max(1, abs(e)), "row \(i) column \(c)")
            }
        }
    }

    func testAutoStrategyFollowsDensity() throws {
        // A 4-neighbour ring-like pattern on 64 agents: density 5/64 < 0.1 -> sparse.
        let n = 64
        var entries: [[(Int, Float)]] = []
        for i in 0..<n {
            let cols: [Int] = [i, (i + 1) % n, (i + n - 1) % n, (i + 2) % n, (i + n - 2) % n]
            entries.append(cols.map { ($0, Float(0.2)) })
        }
        let sparse = try CSRMatrix<Float>(rows: n, cols: n, entries: entries)
        XCTAssertFalse(try MixingOperator(sparse).usesGEMM)
        let fullRow: [(Int, Float)] = (0..<n).map { ($0, Float(1) / Float(n)) }
        let full = try CSRMatrix<Float>(rows: n, cols: n, entries: [[(Int, Float)]](repeating: fullRow, count: n))
        XCTAssertTrue(try MixingOperator(full).usesGEMM)
    }

    func testShapeErrorsNameTheMismatch() throws {
        let w: CSRMatrix<Float> = randomCSR(4, seed: 1)
        let op = try MixingOperator(w)
        var y = Matrix<Float>(rows: 4, cols: 3)
        XCTAssertThrowsError(try Kernels.mix(op, Matrix<Float>(rows: 5, cols: 3), into: &y)) { e in
            XCTAssertTrue("\(e)".contains("X has 5 rows"), "\(e)")
        }
        XCTAssertThrowsError(try Kernels.mix(op, Matrix<Float>(rows: 4, cols: 2), into: &y)) { e in
            XCTAssertTrue("\(e)".contains("expected 4 x 2"), "\(e)")
        }
        XCTAssertThrowsError(
            try Kernels.mixStep(
                op, Matrix<Float>(rows: 4, cols: 3), stepSizes: [1, 2], directions: Matrix<Float>(rows: 4, cols: 3), into: &y)
        ) { e in
            XCTAssertTrue("\(e)".contains("needs 4 step sizes, got 2"), "\(e)")
        }
        XCTAssertThrowsError(
            try Kernels.mixStep(
                op, Matrix<Float>(rows: 4, cols: 3), stepSizes: [1, 2, 3, 4], directions: Matrix<Float>(rows: 4, cols: 1), into: &y)
        ) { e in
            XCTAssertTrue("\(e)".contains("directions are 4 x 1"), "\(e)")
        }
    }

    func testCSRValidation() {
        XCTAssertThrowsError(try CSRMatrix<Float>(rows: 2, cols: 2, rowStart: [0, 1], columns: [0], values: [1])) { e in
            XCTAssertTrue("\(e)".contains("expected rows + 1 = 3"), "\(e)")
        }
        XCTAssertThrowsError(try CSRMatrix<Float>(rows: 2, cols: 2, rowStart: [0, 2, 1], columns: [0, 1], values: [1, 1])) { e in
            XCTAssertTrue("\(e)".contains("decreases at row 1"), "\(e)")
        }
        XCTAssertThrowsError(try CSRMatrix<Float>(rows: 2, cols: 2, rowStart: [0, 1, 2], columns: [0, 2], values: [1, 1])) { e in
            XCTAssertTrue("\(e)".contains("column index 2 at entry 1 is outside 0..<2"), "\(e)")
        }
        XCTAssertThrowsError(try MixingOperator(CSRMatrix<Float>(rows: 2, cols: 3, rowStart: [0, 0, 0], columns: [], values: []))) { e in
            XCTAssertTrue("\(e)".contains("must be square"), "\(e)")
        }
    }
}
