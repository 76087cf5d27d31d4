// AgoraKernels re-exports the base module (the error vocabulary, the platform services, the
// seeded generator, formatting and resource limits), so code that imports the kernels sees them
// as before; code that needs only the base imports AgoraCore.
@_exported import AgoraCore
