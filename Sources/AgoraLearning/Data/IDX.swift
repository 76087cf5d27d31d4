import AgoraKernels
import Foundation

/// Reader for the IDX format of MNIST (optionally gzip-compressed): big-endian magic
/// 0x0000_08_NN (unsigned bytes, NN dimensions), NN big-endian 32-bit sizes, then the data.
public enum IDXReader {
    /// An IDX array of unsigned bytes.
    public struct Tensor: Sendable {
        public let dimensions: [Int]
        public let values: [UInt8]
    }

    public static func read(path: String) throws -> Tensor {
        try parse(CompressedFile.contents(of: path), name: path)
    }

    public static func parse(_ b: [UInt8], name: String) throws -> Tensor {
        guard b.count >= 4 else {
            throw AgoraError.data(file: name, "only \(b.count) bytes: an IDX file starts with a 4-byte magic number")
        }
        guard b[0] == 0, b[1] == 0 else {
            throw AgoraError.data(
                file: name, String(format: "bad IDX magic %02X %02X %02X %02X: expected 00 00 08 NN", b[0], b[1], b[2], b[3]))
        }
        guard b[2] == 0x08 else {
            throw AgoraError.data(
                file: name, String(format: "IDX element type 0x%02X is not supported: expected 0x08 (unsigned byte)", b[2]))
        }
        let nd = Int(b[3])
        guard nd >= 1 else { throw AgoraError.data(file: name, "IDX file declares 0 dimensions") }
        guard b.count >= 4 + 4 * nd else {
            throw AgoraError.data(file: name, "truncated IDX header: \(nd) dimensions need \(4 + 4 * nd) bytes, file has \(b.count)")
        }
        var dims: [Int] = []
        var count = 1
        for k in 0..<nd {
            let o = 4 + 4 * k
            let size = Int(b[o]) << 24 | Int(b[o + 1]) << 16 | Int(b[o + 2]) << 8 | Int(b[o + 3])
            dims.append(size)
            let (product, overflow) = count.multipliedReportingOverflow(by: size)
            // The data must be in the file: a declared size beyond its bytes is a truncated or corrupt header.
            guard !overflow, product <= b.count else {
                throw AgoraError.data(
                    file: name,
                    "IDX dimensions \(dims.map(String.init).joined(separator: " x "))\(k + 1 < nd ? " x ..." : "") declare more data than the file's \(b.count) bytes (corrupt or truncated header)"
                )
            }
            count = product
        }
        let start = 4 + 4 * nd
        guard b.count - start == count else {
            throw AgoraError.data(
                file: name,
                "IDX dimensions \(dims.map(String.init).joined(separator: " x ")) need \(count) data bytes, file has \(b.count - start)"
                    + (b.count - start < count ? " (truncated)" : " (trailing bytes)"))
        }
        return Tensor(dimensions: dims, values: Array(b[start...]))
    }

    /// An image file and a label file as a data set: pixels scaled to [0, 1], one row per image.
    public static func dataset(images: String, labels: String) throws -> Dataset {
        try dataset(images: try read(path: images), labels: try read(path: labels), imagesName: images, labelsName: labels)
    }

    /// Parsed image and label arrays as a data set (names label the errors).
    public static func dataset(images im: Tensor, labels lb: Tensor, imagesName images: String, labelsName labels: String) throws -> Dataset
    {
        guard im.dimensions.count >= 2 else {
            throw AgoraError.data(file: images, "expected an image array (at least 2 dimensions), got \(im.dimensions.count)")
        }
        guard lb.dimensions.count == 1 else {
            throw AgoraError.data(file: labels, "expected a 1-dimensional label array, got \(lb.dimensions.count) dimensions")
        }
        guard im.dimensions[0] == lb.dimensions[0] else {
            throw AgoraError.data(file: labels, "\(lb.dimensions[0]) labels for \(im.dimensions[0]) images in \(images)")
        }
        let n = im.dimensions[0], d = im.dimensions.dropFirst().reduce(1, *)
        try ResourceLimits.check(bytes: 4 * Double(n) * Double(d), for: "\(images) as Float features (\(n) x \(d))")
        var x = Matrix<Float>(rows: n, cols: d)
        for k in 0..<(n * d) { x.storage[k] = Float(im.values[k]) / 255 }
        let classes = Set(lb.values).sorted()
        var classOf = [Int](repeating: 0, count: 256)
        for (c, v) in classes.enumerated() { classOf[Int(v)] = c }
        return Dataset(
            name: images, features: .dense(x), labels: lb.values.map { classOf[Int($0)] },
            labelNames: classes.map { String($0) })
    }
}
