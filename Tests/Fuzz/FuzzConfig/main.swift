import AgoraExperiments
import AgoraMechanisms
import Foundation
import FuzzSupport

/// JSON experiment configurations (what --config and `agora contract FILE` read), decoded and
/// validated: every input decodes and validates, or throws.
Fuzz.run { b in
    let data = Data(b)
    let decoder = JSONDecoder()
    if let e = try? decoder.decode(DSGDExperiment.self, from: data) { _ = try? e.validate() }
    if let e = try? decoder.decode(MarketExperiment.self, from: data) { _ = try? e.validate() }
    if let s = try? decoder.decode(ContractSetting.self, from: data) { _ = try? s.validate() }
}
