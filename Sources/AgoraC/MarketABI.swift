// The C ABI of the model market (agora.h): the update geometry of a set of models and one server
// step of the iPFL market. Same conventions as AgoraC.swift: every argument validated, errors as
// a status and a message, outputs written into the caller's buffers.
import AgoraKernels
import AgoraMechanisms

/// `rows x cols` with an overflow check (sizes come from C).
func elementCount(_ rows: Int64, _ cols: Int64, _ what: String) throws -> Int {
    try require(rows >= 1 && cols >= 1, "\(what) must have at least one row and one column, got \(rows) x \(cols)")
    return try checkedElements(rows, cols, bytesEach: MemoryLayout<Float>.stride, what)
}

/// A Float matrix copied from the caller's buffer, checked finite (the market's arithmetic and the
/// Gram need finite models).
func finiteMatrix(_ p: UnsafePointer<Float>?, _ rows: Int64, _ cols: Int64, _ what: String) throws -> Matrix<Float> {
    guard let p else { throw ArgumentError(message: "\(what) must not be NULL") }
    let n = try elementCount(rows, cols, what)
    let storage = Array(UnsafeBufferPointer(start: p, count: n))
    if let bad = storage.firstIndex(where: { !$0.isFinite }) {
        throw ArgumentError(message: "\(what)[\(bad / Int(cols))][\(bad % Int(cols))] = \(storage[bad]): the models must be finite")
    }
    return try Matrix(rows: Int(rows), cols: Int(cols), storage: storage)
}

func finiteVector(_ p: UnsafePointer<Float>?, _ count: Int64, _ what: String) throws -> [Float] {
    guard let p else { throw ArgumentError(message: "\(what) must not be NULL") }
    let n = try checkedElements(count, 1, bytesEach: MemoryLayout<Float>.stride, what)
    let v = Array(UnsafeBufferPointer(start: p, count: n))
    if let bad = v.firstIndex(where: { !$0.isFinite }) { throw ArgumentError(message: "\(what)[\(bad)] = \(v[bad]) must be finite") }
    return v
}

/// Clients' economics from three parallel arrays (validated by the market, naming the client).
func economics(
    _ sizes: UnsafePointer<Double>?, _ costs: UnsafePointer<Double>?, _ eagerness: UnsafePointer<Double>?,
    _ clients: Int, _ what: String
) throws -> [ClientEconomics] {
    guard let sizes, let costs, let eagerness else { throw ArgumentError(message: "\(what) sizes, costs and eagerness must not be NULL") }
    let e = (0..<clients).map { ClientEconomics(dataSize: sizes[$0], cost: costs[$0], eagerness: eagerness[$0]) }
    for (i, c) in e.enumerated() { try c.validate(client: i, what: what) }
    return e
}

@_cdecl("agora_update_geometry_f32")
public func agora_update_geometry_f32(
    _ clients: Int64, _ params: Int64, _ models: UnsafePointer<Float>?, _ origin: UnsafePointer<Float>?,
    _ norms: UnsafeMutablePointer<Float>?, _ cosines: UnsafeMutablePointer<Float>?,
    _ message: UnsafeMutablePointer<CChar>?, _ size: Int
) -> Int32 {
    guarded(message, size) {
        let x = try finiteMatrix(models, clients, params, "models")
        let o = try finiteVector(origin, params, "origin")
        guard let norms else { throw ArgumentError(message: "norms must not be NULL") }
        let n = Int(clients), total = n * Int(params)
        let nn = try checkedElements(clients, clients, bytesEach: MemoryLayout<Float>.stride, "cosines (clients x clients)")
        try requireSeparate(
            outputs: [CBuffer("norms", norms, n), CBuffer("cosines", cosines, nn)],
            inputs: [CBuffer("models", models, total), CBuffer("origin", origin, Int(params))])
        let geo = try Kernels.updateGeometry(x, origin: o)
        // Computed in Agora's own buffers, then copied once into the caller's (memcpy).
        norms.update(from: geo.norms, count: Int(clients))
        if let cosines { cosines.update(from: geo.cosines.storage, count: geo.cosines.storage.count) }
    }
}

@_cdecl("agora_market_step_f32")
public func agora_market_step_f32(
    _ clients: Int64, _ params: Int64, _ uploaded: UnsafePointer<Float>?, _ origin: UnsafePointer<Float>?,
    _ sizes: UnsafePointer<Double>?, _ costs: UnsafePointer<Double>?, _ eagerness: UnsafePointer<Double>?,
    _ trueSizes: UnsafePointer<Double>?, _ trueCosts: UnsafePointer<Double>?, _ trueEagerness: UnsafePointer<Double>?,
    _ active: UnsafePointer<UInt8>?, _ settled: UnsafePointer<UInt8>?, _ lambda: Double, _ eta: Double, _ distance: Int32,
    _ tieBreak: Int32, _ centreStep: Int32,
    _ seed: UInt64, _ imports: UnsafeMutablePointer<Int32>?, _ payments: UnsafeMutablePointer<Double>?,
    _ netPayments: UnsafeMutablePointer<Double>?, _ utilities: UnsafeMutablePointer<Double>?,
    _ distances: UnsafeMutablePointer<Double>?, _ centres: UnsafeMutablePointer<Float>?,
    _ message: UnsafeMutablePointer<CChar>?, _ size: Int
) -> Int32 {
    guarded(message, size) {
        let theta = try finiteMatrix(uploaded, clients, params, "uploaded")
        let o = try finiteVector(origin, params, "origin")
        let m = Int(clients)
        let reports = try economics(sizes, costs, eagerness, m, "report")
        let truth: [ClientEconomics]?
        switch (trueSizes, trueCosts, trueEagerness) {
        case (nil, nil, nil): truth = nil
        default: truth = try economics(trueSizes, trueCosts, trueEagerness, m, "truth")
        }
        guard let imports, let payments, let netPayments, let utilities else {
            throw ArgumentError(message: "imports, payments, net_payments and utilities must not be NULL")
        }
        let total = m * Int(params)
        let mm = try checkedElements(clients, clients, bytesEach: MemoryLayout<Double>.stride, "payments (clients x clients)")
        try requireSeparate(
            outputs: [
                CBuffer("imports", imports, mm), CBuffer("payments", payments, mm), CBuffer("net_payments", netPayments, m),
                CBuffer("utilities", utilities, m), CBuffer("distances", distances, mm), CBuffer("centres", centres, total),
            ],
            inputs: [
                CBuffer("uploaded", uploaded, total), CBuffer("origin", origin, Int(params)), CBuffer("sizes", sizes, m),
                CBuffer("costs", costs, m), CBuffer("eagerness", eagerness, m), CBuffer("true_sizes", trueSizes, m),
                CBuffer("true_costs", trueCosts, m), CBuffer("true_eagerness", trueEagerness, m), CBuffer("active", active, m),
                CBuffer("settled", settled, m),
            ])
        let metric: MarketDistance, ties: MarketTieBreak, step: CentreStep
        switch distance {
        case 0: metric = .cosine
        case 1: metric = .squaredL2
        default: throw ArgumentError(message: "distance must be 0 (cosine) or 1 (squared L2), got \(distance)")
        }
        switch tieBreak {
        case 0: ties = .index
        case 1: ties = .random
        default: throw ArgumentError(message: "tie_break must be 0 (index) or 1 (random), got \(tieBreak)")
        }
        switch centreStep {
        case 0: step = .relative
        case 1: step = .absolute
        default: throw ArgumentError(message: "centre_step must be 0 (relative) or 1 (absolute), got \(centreStep)")
        }
        let market = ModelMarket(lambda: lambda, eta: eta, distance: metric, tieBreak: ties, centreStep: step)
        try market.validate()
        let mask = active.map { a in (0..<m).map { a[$0] != 0 } }
        let settling = settled.map { s in (0..<m).map { s[$0] != 0 } }
        var ws = ModelMarket.Workspace<Float>()
        let (outcome, d) = try market.step(
            uploaded: theta, origin: o, reports: reports, truth: truth, active: mask, seed: seed, settled: settling,
            workspace: &ws)
        for i in 0..<m {
            netPayments[i] = outcome.netPayments[i]
            utilities[i] = outcome.utilities[i]
            for j in 0..<m {
                imports[i * m + j] = -1
                payments[i * m + j] = 0
            }
            // An unsettled buyer's imports are listed with no payments (`outcome.payments[i]` empty).
            for (k, j) in outcome.imports[i].enumerated() {
                imports[i * m + k] = Int32(j)
                if k < outcome.payments[i].count { payments[i * m + j] = outcome.payments[i][k] }
            }
        }
        if let distances { distances.update(from: d.storage, count: m * m) }
        if let centres { centres.update(from: ws.centres.storage, count: ws.centres.storage.count) }
    }
}
