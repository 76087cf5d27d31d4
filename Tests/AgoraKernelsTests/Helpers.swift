import AgoraKernels
import XCTest

/// Random matrix with entries in [-1, 1).
func randomMatrix<T: AgoraScalar>(_ rows: Int, _ cols: Int, seed: UInt64, _: T.Type = T.self) -> Matrix<T> {
    var g = SeededGenerator(seed: seed)
    var m = Matrix<T>(rows: rows, cols: cols)
    for k in m.storage.indices { m.storage[k] = T(2 * g.uniform() - 1) }
    return m
}

/// Random sparse square matrix with some empty rows and unsorted column order.
func randomCSR<T: AgoraScalar>(_ n: Int, seed: UInt64, emptyEvery: Int = 4, _: T.Type = T.self) -> CSRMatrix<T> {
    var g = SeededGenerator(seed: seed)
    var rows: [[(Int, T)]] = []
    for i in 0..<n {
        if emptyEvery > 0 && i % emptyEvery == emptyEvery - 1 { rows.append([]); continue }
        let k = Int(g.next() % UInt64(min(n, 6))) + 1
        var r: [(Int, T)] = []
        for _ in 0..<k { r.append((Int(g.next() % UInt64(n)), T(g.uniform()))) }
        rows.append(r)
    }
    return try! CSRMatrix(rows: n, cols: n, entries: rows)
}

/// Naive Y = W X (+ optional -lr_i m_i), accumulating in Double.
func naiveMix<T: AgoraScalar>(_ w: CSRMatrix<T>, _ x: Matrix<T>, lr: [T]? = nil, m: Matrix<T>? = nil) -> [Double] {
    var y = [Double](repeating: 0, count: w.rows * x.cols)
    for i in 0..<w.rows {
        for k in w.rowStart[i]..<w.rowStart[i + 1] {
            let j = Int(w.columns[k])
            for c in 0..<x.cols { y[i * x.cols + c] += Double(w.values[k]) * Double(x[j, c]) }
        }
        if let lr, let m { for c in 0..<x.cols { y[i * x.cols + c] -= Double(lr[i]) * Double(m[i, c]) } }
    }
    return y
}

func assertClose<T: AgoraScalar>(_ a: [T], _ b: [Double], rel: Double, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, "length", file: file, line: line)
    for k in 0..<min(a.count, b.count) {
        let err = abs(Double(a[k]) - b[k])
        if !(err <= rel * max(1, abs(b[k]))) {  // also catches NaN
            XCTFail("element \(k): \(a[k]) vs \(b[k]) (err \(err))", file: file, line: line)
            return
        }
    }
}

func tol<T: AgoraScalar>(_: T.Type) -> Double { T.self == Float.self ? 2e-5 : 1e-12 }

/// Runs `body` with the shared pool at `threads` threads, restoring it after.
func withThreads<R>(_ threads: Int, _ body: () throws -> R) rethrows -> R {
    let old = ThreadPool.shared.threads
    let oldMin = ThreadPool.shared.minParallelBytes
    ThreadPool.shared.threads = threads
    ThreadPool.shared.minParallelBytes = 0  // force the parallel path even on tiny test shapes
    defer { ThreadPool.shared.threads = old; ThreadPool.shared.minParallelBytes = oldMin }
    return try body()
}

let testShapes: [(n: Int, d: Int)] = [(1, 1), (1, 17), (3, 1), (5, 15), (7, 16), (9, 33), (16, 100), (33, 257)]
