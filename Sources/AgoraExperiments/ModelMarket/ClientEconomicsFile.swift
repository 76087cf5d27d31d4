import AgoraKernels
import Foundation

extension MarketExperiment {
    /// Per-client eagerness K_i and cost c_i from a CSV file with the header `client,K,cost` and one
    /// row per client 0..<clients, in any order (the paper's inclusive market: clients differ in
    /// how much they want to import and what exporting costs them). Errors name the file, line
    /// and field.
    public static func readEconomics(path: String, clients: Int) throws -> (eagerness: [Double], cost: [Double]) {
        guard clients >= 1 else { throw AgoraError.configuration("the market needs at least one client, got \(clients)", field: "clients") }
        // One short row per client (at most 100 000 clients): 64 MiB bounds any valid file.
        let data = Data(try SystemFile.read(path: path, maxBytes: 64 << 20, what: "the client economics file"))
        guard let text = String(data: data, encoding: .utf8) else { throw AgoraError.data(file: path, "is not UTF-8 text") }
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        while lines.last == "" { lines.removeLast() }
        guard let header = lines.first else {
            throw AgoraError.data(file: path, "is empty; expected the header client,K,cost and one row per client")
        }
        let names = header.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard names == ["client", "k", "cost"] else {
            throw AgoraError.data(file: path, line: 1, "the header must be client,K,cost, got '\(header)'")
        }
        var k = [Double?](repeating: nil, count: clients), c = [Double?](repeating: nil, count: clients)
        for (n, line) in lines.enumerated().dropFirst() where !line.isEmpty {
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard f.count == 3 else { throw AgoraError.data(file: path, line: n + 1, "expected 3 fields (client,K,cost), got \(f.count)") }
            guard let i = Int(f[0]), i >= 0, i < clients else {
                throw AgoraError(
                    .data, "client must be an index in 0..<\(clients), got '\(f[0])'", file: path, line: n + 1, field: "client")
            }
            guard k[i] == nil else { throw AgoraError(.data, "client \(i) is listed twice", file: path, line: n + 1, field: "client") }
            guard let kv = Double(f[1]), kv.isFinite, kv >= 0 else {
                throw AgoraError(.data, "K must be a non-negative number, got '\(f[1])'", file: path, line: n + 1, field: "K")
            }
            guard let cv = Double(f[2]), cv.isFinite, cv >= 0 else {
                throw AgoraError(.data, "cost must be a non-negative number, got '\(f[2])'", file: path, line: n + 1, field: "cost")
            }
            k[i] = kv
            c[i] = cv
        }
        if let missing = k.firstIndex(where: { $0 == nil }) {
            throw AgoraError.data(file: path, "has no row for client \(missing) (every client 0..<\(clients) needs one)")
        }
        return (k.map { $0! }, c.map { $0! })
    }

    /// `count` seeded uniform draws from [lo, hi] (per-client K or c drawn from a range).
    public static func uniformDraws(_ count: Int, lo: Double, hi: Double, seed: UInt64, stream: UInt64) -> [Double] {
        var g = SeededGenerator(seed: seed, stream: stream)
        return (0..<max(0, count)).map { _ in lo + (hi - lo) * g.uniform() }
    }
}
