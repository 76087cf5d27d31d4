import AgoraExperiments
import Foundation
import FuzzSupport

/// DSGD checkpoints: decoded (the digest checked for even-length inputs, skipped for odd ones so
/// that the consistency checks are reached), then checked against their own experiment as a
/// resume does, with the runs such an experiment has.
Fuzz.run { b in
    let data = Data(b)
    guard let c = try? DSGDExperiment.Checkpoint.decode(data, name: "fuzz.json", verifyDigest: b.count % 2 == 0) else { return }
    guard (try? c.config.validate()) != nil else { return }
    _ = try? c.check(against: c.config, runs: c.config.runLabels)
}
