import AgoraExperiments
import AgoraMechanisms
import Foundation
import FuzzSupport

/// JSON experiment configurations (what --config and `agora contract FILE` read) and sweep files
/// (`agora sweep FILE`), decoded and validated: every input decodes and validates, or throws. A
/// sweep that parses also expands some cells and flattens itself as a summary would.
Fuzz.run { b in
    let data = Data(b)
    let decoder = JSONDecoder()
    if let e = try? decoder.decode(DSGDExperiment.self, from: data) { _ = try? e.validate() }
    if let e = try? decoder.decode(MarketExperiment.self, from: data) { _ = try? e.validate() }
    if let s = try? decoder.decode(ContractSetting.self, from: data) { _ = try? s.validate() }
    if let v = try? JSONValue.parse(b, what: "fuzz") {
        _ = SweepTable.flatten(v)
        _ = v.json
        if let sweep = try? Sweep.parse(v, file: "fuzz") {
            for c in sweep.cells(shard: 0, of: max(1, sweep.count / 16)).prefix(16) { _ = c.key }
            _ = sweep.cell(sweep.count - 1)
        }
    }
}
