import AgoraTopology
import FuzzSupport

/// Edge-list files, then their mixing matrix (custom weights validated) as the CLI builds it.
Fuzz.run { b in
    let text = String(decoding: b, as: UTF8.self)
    for agents in [0, 5] {
        guard let c = try? EdgeListFile.parse(text, name: "fuzz.edges", agents: agents) else { continue }
        guard c.graph.agents <= 512 else { continue }
        if let w = c.weights {
            _ = try? MixingMatrix(graph: c.graph, weights: w)
        } else {
            _ = try? MixingMatrix(graph: c.graph, scheme: .metropolis)
        }
    }
}
