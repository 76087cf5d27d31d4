import AgoraLearning
import FuzzSupport

/// IDX arrays (optionally gzip-compressed): the input is split at its first byte's position into
/// an image file and a label file, each inflated when gzip, parsed, and joined as a data set.
Fuzz.run { b in
    guard let first = b.first else { return }
    let cut = min(b.count, 1 + Int(first) * max(1, b.count / 256))
    let images = Array(b[1..<max(1, cut)]), labels = Array(b[cut...])
    guard let im = try? IDXReader.parse(try CompressedFile.decode(images, name: "images"), name: "images") else { return }
    guard let lb = try? IDXReader.parse(try CompressedFile.decode(labels, name: "labels"), name: "labels") else { return }
    if let d = try? IDXReader.dataset(images: im, labels: lb, imagesName: "images", labelsName: "labels") {
        precondition(d.labels.count == d.rows)
    }
}
