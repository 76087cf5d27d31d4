// swift-tools-version: 6.1
// OpenMP (LLVM libomp) beside Agora's thread pool, on the same work: `make bench-openmp`.
// Issue 17 asks to evaluate OpenMP as the parallel runtime; this package measures it without
// putting -fopenmp (an unsafe flag) or libomp into any library product. The C shim holds the
// work (one row-range function) and the OpenMP driver; the Swift side runs the same function
// under ThreadPool.parallelFor, so the comparison is of the runtimes, not of two kernels.
import Foundation
import PackageDescription

let checkout = Context.environment["AGORA_CHECKOUT"] ?? "../.."
let ompInclude = Context.environment["AGORA_OMP_INCLUDE"] ?? "/usr/lib/llvm-14/lib/clang/14.0.6/include"
let ompLib = Context.environment["AGORA_OMP_LIB"] ?? "/usr/lib/llvm-14/lib"

let package = Package(
    name: "AgoraOpenMPEval",
    dependencies: [.package(name: "Agora", path: checkout)],
    targets: [
        .target(
            name: "COpenMPShim",
            cSettings: [.unsafeFlags(["-fopenmp", "-O2", "-idirafter", ompInclude])],
            linkerSettings: [.unsafeFlags(["-L\(ompLib)", "-lomp", "-Xlinker", "-rpath", "-Xlinker", ompLib])]
        ),
        .executableTarget(
            name: "OpenMPEval",
            dependencies: [
                "COpenMPShim", .product(name: "AgoraKernels", package: "Agora"), .product(name: "AgoraBenchCore", package: "Agora"),
            ]
        ),
    ]
)
