import AgoraKernels
import CZlib
import Foundation

/// Reads a file, inflating it when it is gzip-compressed (detected by its magic bytes, not the
/// name). The only file of Agora that calls zlib.
public enum CompressedFile {
    public static func contents(of path: String) throws -> [UInt8] {
        return try decode(SystemFile.read(path: path, maxBytes: .max, what: "the data file"), name: path)
    }

    /// `bytes` inflated when they start with the gzip magic, else unchanged; `name` labels errors.
    public static func decode(_ bytes: [UInt8], name: String) throws -> [UInt8] {
        if bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B { return try gunzip(bytes, name: name) }
        return bytes
    }

    /// Inflates gzip (or zlib) data; concatenated gzip members are all inflated.
    public static func gunzip(_ input: [UInt8], name: String) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(input.count * 4)
        var stream = z_stream()
        guard agora_inflate_init_auto(&stream) == Z_OK else { throw AgoraError.data(file: name, "zlib could not start inflating") }
        defer { inflateEnd(&stream) }
        var chunk = [UInt8](repeating: 0, count: 1 << 18)
        var limitCheckedAt = 64 << 20
        try input.withUnsafeBufferPointer { ib in
            stream.next_in = UnsafeMutablePointer(mutating: ib.baseAddress)
            stream.avail_in = uInt(ib.count)
            while true {
                let status: Int32 = chunk.withUnsafeMutableBufferPointer { cb in
                    stream.next_out = cb.baseAddress
                    stream.avail_out = uInt(cb.count)
                    return inflate(&stream, Z_NO_FLUSH)
                }
                let produced = chunk.count - Int(stream.avail_out)
                out.append(contentsOf: chunk[0..<produced])
                // A small file may inflate to far more than memory holds (a "zip bomb"): the data
                // is kept, then converted (4 bytes per value), so 5x the inflated size must fit.
                if out.count > limitCheckedAt {
                    try ResourceLimits.check(
                        bytes: 5 * Double(out.count),
                        for: "\(name) (gzip, inflated to more than \(ResourceLimits.formatBytes(Double(out.count))) so far)")
                    limitCheckedAt = out.count + (64 << 20)
                }
                if status == Z_STREAM_END {
                    if stream.avail_in == 0 { break }
                    // Another gzip member follows.
                    guard inflateReset(&stream) == Z_OK else { throw AgoraError.data(file: name, "zlib could not restart") }
                    continue
                }
                guard status == Z_OK || status == Z_BUF_ERROR else {
                    throw AgoraError.data(file: name, "corrupt gzip data (zlib status \(status), after \(out.count) inflated bytes)")
                }
                if status == Z_BUF_ERROR && stream.avail_in == 0 {
                    throw AgoraError.data(file: name, "truncated gzip data (ended after \(out.count) inflated bytes)")
                }
            }
        }
        return out
    }
}
