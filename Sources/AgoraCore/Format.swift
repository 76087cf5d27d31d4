#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// printf-style formatting through the C library's vsnprintf, for the layers that stay
/// Foundation-free (String(format:) is Foundation's). Arguments follow C's rules: %d takes Int32
/// or Int (as %ld), %g and %f take Double.
public func cFormat(_ format: String, _ arguments: CVarArg...) -> String {
    withVaList(arguments) { list in
        var buffer = [CChar](repeating: 0, count: 512)
        let needed = Int(vsnprintf(&buffer, buffer.count, format, list))
        guard needed >= buffer.count else {
            return String(decoding: buffer.prefix(max(0, needed)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        return withVaList(arguments) { again in
            var big = [CChar](repeating: 0, count: needed + 1)
            _ = vsnprintf(&big, big.count, format, again)
            return String(decoding: big.prefix(needed).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }
}
