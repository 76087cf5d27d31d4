// swift-tools-version: 6.1
// A separate package that uses Agora's library products by path: what an application embedding
// Agora writes. Build and run: swift run --package-path examples/swift -c release
import PackageDescription

let package = Package(
    name: "AgoraExample",
    dependencies: [.package(name: "Agora", path: "../..")],
    targets: [
        .executableTarget(
            name: "AgoraExample",
            dependencies: [
                .product(name: "AgoraTopology", package: "Agora"),
                .product(name: "AgoraMechanisms", package: "Agora"),
                .product(name: "AgoraExperiments", package: "Agora"),
                .product(name: "AgoraKernels", package: "Agora"),
            ]
        )
    ]
)
