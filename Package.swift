// swift-tools-version:6.1
//
// Agora: incentive-compatible collaborative machine learning.
//
// Layers look only down (docs/architecture.md has the import graph):
//
//   agora (CLI), AgoraBench, AgoraC (C ABI, libAgoraC.so -> python/agora_ml)
//        |
//   AgoraExperiments      harnesses: DSGD runs (behaviours, counterfactuals, checkpoints),
//        |                market runs (baselines, attacks, dropout), consensus
//   AgoraReports          SVG plots, CSV/JSON writers
//        |
//   AgoraMechanisms       the algorithm boxes: truthful DSGD, the iPFL market, contracts
//        |                (over AgoraTopology and AgoraKernels only)
//   AgoraLearning         data readers, partitions, synthetic data, models, optimisers
//   AgoraTopology         graphs, topologies, mixing weights, spectral gap, NeighborExchange
//   AgoraDistributed      MPIExchange: the NeighborExchange over MPI (trait MPI; empty without it)
//        |
//   AgoraKernels          SIMD kernels, BLAS (the only BLAS calls), thread pool (re-exports AgoraCore)
//        |
//   AgoraCore             error vocabulary, platform services, seeded RNG, formatting, resource limits
//        |
//   COpenBLAS, CZlib, CAgoraSupport, CMPI (trait MPI) (CBridge/)
//
// No unsafe flags here: machine-specific tuning (e.g. -march=native) lives in the Makefile.
import Foundation
import PackageDescription

let package = Package(
    name: "Agora",
    products: [
        .library(name: "AgoraCore", targets: ["AgoraCore"]),
        .library(name: "AgoraKernels", targets: ["AgoraKernels"]),
        .library(name: "AgoraTopology", targets: ["AgoraTopology"]),
        .library(name: "AgoraLearning", targets: ["AgoraLearning"]),
        .library(name: "AgoraMechanisms", targets: ["AgoraMechanisms"]),
        .library(name: "AgoraReports", targets: ["AgoraReports"]),
        .library(name: "AgoraExperiments", targets: ["AgoraExperiments"]),
        // The MPI back-end of NeighborExchange (empty unless built with the MPI trait).
        .library(name: "AgoraDistributed", targets: ["AgoraDistributed"]),
        // The C ABI (include/agora.h) as a shared library, for C and the Python package agora_ml.
        .library(name: "AgoraC", type: .dynamic, targets: ["AgoraC"]),
        .executable(name: "agora", targets: ["agora"]),
        .executable(name: "AgoraBench", targets: ["AgoraBench"]),
        .executable(name: "AgoraMPIBench", targets: ["AgoraMPIBench"]),
        .executable(name: "AgoraBenchTrack", targets: ["AgoraBenchTrack"]),
        // Benchmark support (statistics, machine identity, the contended-run competitor), for the
        // separate benchmark packages under Benchmarks/ (OpenMPEval).
        .library(name: "AgoraBenchCore", targets: ["AgoraBenchCore"]),
    ],
    // MPI is optional: `swift build --traits MPI` (make build-mpi) turns on CMPI (pkg-config
    // ompi-c, Open MPI; MPICH's pkg-config name is mpich) and the MPI back-end; a plain build
    // never looks for mpi.h.
    traits: [
        .trait(name: "MPI", description: "The MPI back-end of NeighborExchange (Open MPI or MPICH).")
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0")
    ],
    targets: [
        // System libraries and shims.
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
        // Clang/GCC intrinsics (prefetch, streaming stores) and two Linux services as static inline C; nothing to link.
        .systemLibrary(name: "CAgoraSupport", path: "CBridge/CAgoraSupport"),
        // MPI handles as static inline accessors (they are macros), for AgoraDistributed only.
        .systemLibrary(
            name: "CMPI",
            path: "CBridge/CMPI",
            pkgConfig: "ompi-c",
            providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]
        ),

        // Libraries, bottom up.
        // The base: the error vocabulary, platform services, the seeded generator, formatting,
        // resource limits, CPU features. No Foundation, no BLAS.
        .target(name: "AgoraCore", dependencies: ["CAgoraSupport"]),
        .target(name: "AgoraKernels", dependencies: ["AgoraCore", "COpenBLAS", "CAgoraSupport"]),
        .target(name: "AgoraTopology", dependencies: ["AgoraKernels"]),
        .target(name: "AgoraLearning", dependencies: ["AgoraKernels", "CZlib"]),
        .target(name: "AgoraMechanisms", dependencies: ["AgoraTopology", "AgoraKernels"]),
        .target(
            name: "AgoraDistributed",
            dependencies: ["AgoraTopology", "AgoraKernels", .target(name: "CMPI", condition: .when(traits: ["MPI"]))]),
        .target(name: "AgoraReports", dependencies: ["AgoraCore"]),
        .target(
            name: "AgoraExperiments",
            dependencies: ["AgoraReports", "AgoraMechanisms", "AgoraLearning", "AgoraTopology", "AgoraKernels"]
        ),

        // The C ABI: @_cdecl wrappers over the kernels and topologies (header in include/).
        .target(name: "AgoraC", dependencies: ["AgoraMechanisms", "AgoraTopology", "AgoraKernels"], exclude: ["include"]),

        // Executables, and what only executables may do: restart with a better OpenBLAS core (not a
        // product: no library links it).
        .target(name: "AgoraProgramSupport", dependencies: ["AgoraKernels"]),
        .executableTarget(
            name: "agora",
            dependencies: [
                "AgoraExperiments", "AgoraReports", "AgoraMechanisms", "AgoraLearning", "AgoraTopology", "AgoraKernels",
                "AgoraDistributed", "AgoraProgramSupport", "CAgoraSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(name: "AgoraBenchCore", path: "Benchmarks/AgoraBenchCore"),
        .executableTarget(
            name: "AgoraBench",
            dependencies: [
                "AgoraBenchCore", "AgoraProgramSupport", "AgoraExperiments", "AgoraReports", "AgoraMechanisms", "AgoraLearning",
                "AgoraTopology", "AgoraKernels",
            ],
            path: "Benchmarks/AgoraBench"
        ),
        // Regression tracking: interleaved A/B of two builds of the probe (Benchmarks/ABProbe, a
        // separate package built against each revision), per-machine history, step detection.
        .executableTarget(name: "AgoraBenchTrack", dependencies: ["AgoraBenchCore", "AgoraReports"], path: "Benchmarks/AgoraBenchTrack"),
        .executableTarget(
            name: "AgoraMPIBench",
            dependencies: [
                "AgoraBenchCore", "AgoraDistributed", "AgoraExperiments", "AgoraReports", "AgoraLearning",
                "AgoraTopology", "AgoraKernels",
            ],
            path: "Benchmarks/AgoraMPIBench"
        ),

        // Tests: one suite per module, plus shared helpers (random inputs, naive references, data paths).
        .target(name: "AgoraTestSupport", dependencies: ["AgoraKernels"], path: "Tests/AgoraTestSupport"),
        .testTarget(name: "AgoraKernelsTests", dependencies: ["AgoraKernels", "AgoraTestSupport"]),
        .testTarget(name: "AgoraTopologyTests", dependencies: ["AgoraTopology", "AgoraKernels", "AgoraTestSupport"]),
        .testTarget(name: "AgoraLearningTests", dependencies: ["AgoraLearning", "AgoraKernels", "AgoraTestSupport"]),
        .testTarget(
            name: "AgoraMechanismsTests",
            dependencies: ["AgoraMechanisms", "AgoraLearning", "AgoraTopology", "AgoraKernels", "AgoraTestSupport"]),
        .testTarget(name: "AgoraReportsTests", dependencies: ["AgoraReports"]),
        .testTarget(
            name: "AgoraExperimentsTests",
            dependencies: [
                "AgoraExperiments", "AgoraMechanisms", "AgoraLearning", "AgoraTopology", "AgoraKernels",
                "AgoraTestSupport",
            ]),
        .testTarget(name: "AgoraBenchCoreTests", dependencies: ["AgoraBenchCore", "AgoraBenchTrack", "AgoraTestSupport"]),
        // The built CLI against a table of hostile inputs (clean exits, never a signal).
        .testTarget(name: "AgoraCLITests", dependencies: ["agora", "AgoraKernels", "AgoraTestSupport"]),
    ]
)

// libFuzzer targets for every parser of input (`make fuzz`, `make fuzz-smoke`): declared only when
// AGORA_FUZZ is set, because they link libFuzzer (-sanitize=fuzzer,address), which an ordinary
// build must not see. Each main.swift hands its test to libFuzzer's driver (LLVMFuzzerRunDriver).
if ProcessInfo.processInfo.environment["AGORA_FUZZ"] != nil {
    let common: [Target.Dependency] = ["AgoraLearning", "AgoraTopology", "AgoraKernels", "FuzzSupport"]
    package.targets += [
        .target(name: "CFuzzDriver", path: "Tests/Fuzz/CFuzzDriver"),
        .target(name: "FuzzSupport", dependencies: ["CFuzzDriver"], path: "Tests/Fuzz/FuzzSupport"),
        .executableTarget(name: "FuzzLIBSVM", dependencies: common, path: "Tests/Fuzz/FuzzLIBSVM"),
        .executableTarget(name: "FuzzIDX", dependencies: common, path: "Tests/Fuzz/FuzzIDX"),
        .executableTarget(name: "FuzzCSV", dependencies: common, path: "Tests/Fuzz/FuzzCSV"),
        .executableTarget(name: "FuzzEdgeList", dependencies: common, path: "Tests/Fuzz/FuzzEdgeList"),
        .executableTarget(
            name: "FuzzConfig", dependencies: common + ["AgoraMechanisms", "AgoraExperiments"], path: "Tests/Fuzz/FuzzConfig"),
        .executableTarget(name: "FuzzCheckpoint", dependencies: common + ["AgoraExperiments"], path: "Tests/Fuzz/FuzzCheckpoint"),
    ]
}
