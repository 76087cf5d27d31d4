// swift-tools-version: 6.1
// The A/B probe: a handful of Agora's key kernels timed the same way against any revision of the
// library. `make bench-ab` builds this package twice, once against each revision's checkout
// (AGORA_CHECKOUT, a git worktree), so both sides run the same harness, as airspeed velocity runs
// today's benchmarks against old commits. It only uses public API that has been stable since the
// module split; a revision that predates an API it calls fails to build with the compiler's error.
import Foundation
import PackageDescription

let checkout = Context.environment["AGORA_CHECKOUT"] ?? "../.."

let package = Package(
    name: "AgoraABProbe",
    dependencies: [.package(name: "Agora", path: checkout)],
    targets: [
        .executableTarget(
            name: "AgoraABProbe",
            dependencies: [
                .product(name: "AgoraKernels", package: "Agora"),
                .product(name: "AgoraTopology", package: "Agora"),
                .product(name: "AgoraMechanisms", package: "Agora"),
            ]
        )
    ]
)
