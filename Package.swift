// swift-tools-version:6.0
//
// Agora: incentive-compatible collaborative machine learning.
//
// Layers look only down:
//   agora (CLI), AgoraBench  ->  AgoraMechanisms  ->  AgoraLearning  ->  AgoraKernels  ->  COpenBLAS, CAgoraSupport
//
// No unsafe flags here: machine-specific tuning (e.g. -march=native) lives in the Makefile.
import PackageDescription

let package = Package(
    name: "Agora",
    products: [
        .library(name: "AgoraKernels", targets: ["AgoraKernels"]),
        .library(name: "AgoraLearning", targets: ["AgoraLearning"]),
        .library(name: "AgoraMechanisms", targets: ["AgoraMechanisms"]),
        .executable(name: "agora", targets: ["agora"]),
        .executable(name: "AgoraBench", targets: ["AgoraBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(
            name: "COpenBLAS",
            path: "CBridge/COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev", "pkg-config"])]
        ),
        .systemLibrary(
            name: "CZlib",
            path: "CBridge/CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // Compiler intrinsics (prefetch) as static inline C; nothing to link.
        .systemLibrary(name: "CAgoraSupport", path: "CBridge/CAgoraSupport"),
        .target(
            name: "AgoraKernels",
            dependencies: ["COpenBLAS", "CAgoraSupport"]
        ),
        .target(
            name: "AgoraLearning",
            dependencies: ["AgoraKernels", "CZlib"]
        ),
        .target(
            name: "AgoraMechanisms",
            dependencies: ["AgoraLearning", "AgoraKernels"]
        ),
        .executableTarget(
            name: "agora",
            dependencies: [
                "AgoraMechanisms", "AgoraLearning", "AgoraKernels",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(name: "AgoraBenchCore", path: "Benchmarks/AgoraBenchCore"),
        .executableTarget(
            name: "AgoraBench",
            dependencies: ["AgoraBenchCore", "AgoraMechanisms", "AgoraLearning", "AgoraKernels"],
            path: "Benchmarks/AgoraBench"
        ),
        .testTarget(name: "AgoraKernelsTests", dependencies: ["AgoraKernels"]),
        .testTarget(name: "AgoraLearningTests", dependencies: ["AgoraLearning", "AgoraKernels"]),
        .testTarget(name: "AgoraBenchCoreTests", dependencies: ["AgoraBenchCore"]),
        .testTarget(name: "AgoraMechanismsTests", dependencies: ["AgoraMechanisms", "AgoraLearning", "AgoraKernels"]),
    ]
)
