import AgoraKernels
import Foundation
import XCTest

/// Random matrix with entries in [-1, 1).
public func randomMatrix<T: AgoraScalar>(_ rows: Int, _ cols: Int, seed: UInt64, _: T.Type = T.self) -> Matrix<T> {
    var g = SeededGenerator(seed: seed)
    var m = Matrix<T>(rows: rows, cols: cols)
    for k in m.storage.indices { m.storage[k] = T(2 * g.uniform() - 1) }
    return m
}

/// Random sparse square matrix with some empty rows and unsorted column order.
public func randomCSR<T: AgoraScalar>(_ n: Int, seed: UInt64, emptyEvery: Int = 4, _: T.Type = T.self) -> CSRMatrix<T> {
    var g = SeededGenerator(seed: seed)
    var rows: [[(Int, T)]] = []
    for i in 0..<n {
        if emptyEvery > 0 && i % emptyEvery == emptyEvery - 1 {
            rows.append([])
            continue
        }
        let k = Int(g.next() % UInt64(min(n, 6))) + 1
        var r: [(Int, T)] = []
        for _ in 0..<k { r.append((Int(g.next() % UInt64(n)), T(g.uniform()))) }
        rows.append(r)
    }
    return try! CSRMatrix(rows: n, cols: n, entries: rows)
}

/// Naive Y = W X (+ optional -lr_i m_i), accumulating in Double.
public func naiveMix<T: AgoraScalar>(_ w: CSRMatrix<T>, _ x: Matrix<T>, lr: [T]? = nil, m: Matrix<T>? = nil) -> [Double] {
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

public func assertClose<T: AgoraScalar>(_ a: [T], _ b: [Double], rel: Double, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, "length", file: file, line: line)
    for k in 0..<min(a.count, b.count) {
        let err = abs(Double(a[k]) - b[k])
        if !(err <= rel * max(1, abs(b[k]))) {  // also catches NaN
            XCTFail("element \(k): \(a[k]) vs \(b[k]) (err \(err))", file: file, line: line)
            return
        }
    }
}

public func tol<T: AgoraScalar>(_: T.Type) -> Double { T.self == Float.self ? 2e-5 : 1e-12 }

/// Runs `body` with the shared pool at `threads` threads and every region parallel, however small
/// (the threshold schedule at 0 bytes), so tests reach the parallel path on tiny shapes; restores
/// the pool after.
public func withThreads<R>(_ threads: Int, _ body: () throws -> R) rethrows -> R {
    let pool = ThreadPool.shared
    let old = (pool.threads, pool.minParallelBytes, pool.schedule)
    pool.threads = threads
    pool.minParallelBytes = 0
    pool.schedule = .threshold
    defer { (pool.threads, pool.minParallelBytes, pool.schedule) = old }
    return try body()
}

public let testShapes: [(n: Int, d: Int)] = [(1, 1), (1, 17), (3, 1), (5, 15), (7, 16), (9, 33), (16, 100), (33, 257)]

/// A random feature matrix, dense and the same as CSR (each entry non-zero with probability
/// `density`), drawn from `g`.
public func randomDenseAndSparse(
    rows: Int, cols: Int, density: Double, _ g: inout SeededGenerator
) -> (dense: Matrix<Double>, sparse: CSRMatrix<Double>) {
    var m = Matrix<Double>(rows: rows, cols: cols)
    var entries: [[(Int, Double)]] = []
    for i in 0..<rows {
        var r: [(Int, Double)] = []
        for k in 0..<cols where g.uniform() < density {
            let v = g.normal()
            m[i, k] = v
            r.append((k, v))
        }
        entries.append(r)
    }
    return (m, try! CSRMatrix(rows: rows, cols: cols, entries: entries))
}

/// Why a test could not run here: a resource it needs is missing (the shared data, an MPI build,
/// the built binary, a system tool). Outside CI the test is skipped with this message; with
/// `AGORA_TEST_REQUIRE_ALL=1` (CI sets it) the test fails with it instead, because a test that
/// silently skips there proves nothing.
public func missingResource(_ message: String) -> any Error {
    if ProcessInfo.processInfo.environment["AGORA_TEST_REQUIRE_ALL"] == "1" {
        return MissingTestResource(message: message + " (AGORA_TEST_REQUIRE_ALL=1: a required test may not skip)")
    }
    return XCTSkip(message)
}

/// The failure `missingResource` throws when every test must run.
public struct MissingTestResource: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// The shared data folder: `$AGORA_DATA` when set, else `../shared/data` beside the project root.
public func sharedDataRoot(filePath: String = #filePath) -> String {
    if let env = ProcessInfo.processInfo.environment["AGORA_DATA"], !env.isEmpty { return env }
    // Tests/<Suite>/<File>.swift -> the project root -> its parent.
    let project = URL(fileURLWithPath: filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    return project.deletingLastPathComponent().appendingPathComponent("shared/data").path
}

/// A file of the shared data folder (`sharedDataRoot()`), or the `missingResource` error that says
/// where it was looked for: a fresh clone has no shared data, and its tests skip (fail in CI).
public func sharedData(_ relative: String, filePath: String = #filePath) throws -> String {
    let path = URL(fileURLWithPath: sharedDataRoot(filePath: filePath)).appendingPathComponent(relative).path
    if FileManager.default.fileExists(atPath: path) { return path }
    throw missingResource("real data set \(relative) not found at \(path) (set AGORA_DATA or put the data in ../shared/data)")
}

/// A small random binary classification set (labels -1/+1), dense and the same as CSR (about 40 %
/// zeros): inputs for the GLM gradient kernels and the linear model.
public func randomClassification(rows: Int, cols: Int, seed: UInt64) -> (dense: Matrix<Double>, sparse: CSRMatrix<Double>, y: [Double]) {
    var g = SeededGenerator(seed: seed)
    let (m, sparse) = randomDenseAndSparse(rows: rows, cols: cols, density: 0.6, &g)
    let y = (0..<rows).map { _ in g.uniform() < 0.5 ? -1.0 : 1.0 }
    return (m, sparse, y)
}
