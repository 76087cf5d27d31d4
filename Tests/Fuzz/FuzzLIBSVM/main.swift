import AgoraLearning
import FuzzSupport

/// LIBSVM text, with and without a fixed feature count: every input parses or throws.
Fuzz.run { b in
    if let d = try? LIBSVMReader.parse(b, name: "fuzz.svm") {
        precondition(d.labels.count == d.rows && d.labels.allSatisfy { $0 >= 0 && $0 < d.classes })
    }
    _ = try? LIBSVMReader.parse(b, name: "fuzz.svm", features: 7)
}
