import CFuzzDriver

#if canImport(Glibc)
import Glibc
#endif

/// Shared by the fuzz targets. Each target's main.swift calls `Fuzz.run` with its test body;
/// libFuzzer's driver then feeds it inputs. A small memory budget is set first so that an input
/// declaring a huge size is refused by Agora's own checks (an `AgoraError`) long before libFuzzer's
/// RSS limit: a crash or sanitizer report is then always a real bug.
public enum Fuzz {
    nonisolated(unsafe) static var body: (([UInt8]) -> Void)?

    public static func run(_ test: @escaping ([UInt8]) -> Void) -> Never {
        setenv("AGORA_MEMORY_LIMIT", "256M", 1)
        body = test
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzOneInput(data, size) })
    }
}

/// libFuzzer's entry point, also exported under its conventional name (the runtime's own objects
/// refer to it): runs the body that the target registered with `Fuzz.run`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let body = Fuzz.body else { fatalError("no fuzz body: the target's main.swift must call Fuzz.run") }
    body(size > 0 && data != nil ? Array(UnsafeBufferPointer(start: data, count: size)) : [])
    return 0
}
