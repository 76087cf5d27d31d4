/// Whether this build carries the MPI back-end (`swift build --traits MPI`, `make build-mpi`).
/// Without it the module is empty apart from this flag, and nothing looks for mpi.h.
public enum Distributed {
    #if MPI
    public static let mpiAvailable = true
    #else
    public static let mpiAvailable = false
    #endif
}
