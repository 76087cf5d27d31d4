import AgoraBenchCore
import AgoraExperiments
import AgoraKernels
import AgoraLearning
import AgoraMechanisms
import AgoraTopology
import Foundation

extension BenchSession {
    /// The contract solver on the paper's scenarios (and an I = 8, N = 20 case in full runs) against
    /// scipy's trust-constr on the same program: time and objective.
    func runContracts() {
        let scenarios: [(String, ContractSetting)] =
            ContractScenario.allCases.map { ($0.rawValue, $0.setting) }
            + (quick
                ? []
                : [
                    (
                        "large",
                        ContractSetting(
                            participants: 20, probabilities: [Double](repeating: 0.125, count: 8),
                            costs: [0.8, 0.6, 0.4, 0.2, 0.1, 0.05, 0.02, 0.01])
                    )
                ])
        for (name, setting) in scenarios {
            var menu: ContractMenu? = nil
            let t = measure(reps: name == "large" ? 1 : (quick ? 3 : 7)) {
                menu = try! ContractDesigner(setting, outcomeLimit: 2_000_000).solve(completeInformation: false)
            }
            add("contract/\(name)/I:\(setting.costs.count)/N:\(setting.participants)", t, threads: 1)
            print(
                String(
                    format: "   ours: E[v(a)] = %.7f, KKT residual %.1e, %d outcomes", menu!.expectedValue, menu!.kktResidual,
                    menu!.outcomes))
            if let peer = runPeer(["contract_scipy.py", name], timeout: name == "large" ? 120 : 60),
                let secs = peer["seconds"] as? Double, let obj = peer["objective"] as? Double
            {
                let ratio = secs / t.median
                contractRatios[name] = (ratio, menu!.expectedValue, obj)
                print(
                    String(
                        format: "   scipy trust-constr: %.3f s, E[v(a)] = %.7f (%d iterations): ours is %.0fx faster, objective %@ by %.2e",
                        secs, obj, (peer["iterations"] as? Int) ?? -1, ratio,
                        menu!.expectedValue >= obj - 1e-9 ? "higher or equal" : "LOWER", menu!.expectedValue - obj))
            } else {
                print("   scipy peer gave no answer (needs python3 with numpy and scipy; stopped after \(name == "large" ? 120 : 60) s)")
            }
        }
    }
}
