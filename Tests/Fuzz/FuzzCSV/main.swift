import AgoraLearning
import FuzzSupport

/// Numeric CSV (gzip when the magic says so) in the three header modes.
Fuzz.run { b in
    guard let text = try? CompressedFile.decode(b, name: "fuzz.csv") else { return }
    for mode in CSVHeader.allCases {
        if let d = try? CSVReader.parse(text, name: "fuzz.csv", header: mode) {
            precondition(d.labels.count == d.rows && d.labels.allSatisfy { $0 >= 0 && $0 < d.classes })
        }
    }
}
