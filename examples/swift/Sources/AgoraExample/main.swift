// The Swift API of Agora in one program: a topology and its mixing matrix, the truthful DSGD
// mechanism run by its experiment harness with a manipulating agent, one model-market clearing,
// and an optimal contract menu. Every call validates its input and throws AgoraError.
import AgoraExperiments
import AgoraKernels
import AgoraMechanisms
import AgoraTopology

// 1. Topologies: 16 agents on the exponential graph, Metropolis weights.
let w = try Topology.exponential.mixingMatrix(agents: 16, scheme: .metropolis, seed: 1, iteration: 0)
print("exponential graph on 16 agents: spectral gap \(try w.spectralGap())")

// 2. Mixing with Agora's kernels: x <- W x on a [agents x d] row-major matrix.
var rng = SeededGenerator(seed: 7)
let x: Matrix<Float> = rng.normalMatrix(rows: 16, cols: 1000)
var y = Matrix<Float>(rows: 16, cols: 1000)
try Kernels.mix(w.mixingOperator(Float.self), x, into: &y)
print("consensus error before and after one mix: \(Kernels.consensusError(x)) -> \(Kernels.consensusError(y))")

// 3. Truthful DSGD: agent 3 inflates its gradient three-fold; payments make it pay for that.
var experiment = DSGDExperiment()
experiment.data.agents = 8
experiment.iterations = 300
experiment.strategic = [.init(agent: 3, behaviour: .inflate(alpha: 3))]
let result = try experiment.run()
for g in result.gains {
    print("agent \(g.agent) (\(g.behaviour)): gain with payments \(g.withPayments.last!), without \(g.withoutPayments.last!)")
}

// 4. The model market: who buys whose model at which price, from distances between models.
let reports = (0..<4).map { ClientEconomics(dataSize: 100 * Double($0 + 1), cost: 0.01, eagerness: 5e5) }
var distances = Matrix<Double>(rows: 4, cols: 4)
for i in 0..<4 { for j in 0..<4 where i != j { distances[i, j] = 0.05 * Double(abs(i - j)) } }
let outcome = try ModelMarket().clear(reports: reports, distances: distances)
for i in 0..<4 { print("client \(i) buys from \(outcome.imports[i]), net payment \(outcome.netPayments[i])") }

// 5. An optimal contract menu paid with models: 10 participants of three cost types.
let setting = ContractSetting(participants: 10, probabilities: [0.5, 0.3, 0.2], costs: [0.4, 0.2, 0.05])
let menu = try ContractDesigner(setting).solve()
print("contract menu: contributions \(menu.contributions), expected value \(menu.expectedValue)")
