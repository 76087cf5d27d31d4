/// Euclidean projection onto the probability simplex {x >= 0, sum x = 1} (sort-based, O(n log n)):
/// x_i = max(v_i - tau, 0) with tau chosen so the result sums to one. pFedGraph's per-client QP
/// (identity quadratic term) is exactly this projection.
public func projectOntoSimplex(_ v: [Double]) -> [Double] {
    if v.isEmpty { return [] }
    let u = v.sorted(by: >)
    var cumulative = 0.0, tau = 0.0
    for (k, uk) in u.enumerated() {
        cumulative += uk
        let t = (cumulative - 1) / Double(k + 1)
        if uk - t > 0 { tau = t }
    }
    return v.map { max($0 - tau, 0) }
}
