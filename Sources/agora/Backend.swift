import AgoraDistributed
import AgoraKernels
import AgoraTopology
import ArgumentParser
import Foundation

/// Where the agents run: in this process, or spread over MPI ranks (`mpirun`, an MPI build).
struct BackendOptions: ParsableArguments {
    /// Where agents run.
    enum Kind: String, CaseIterable, ExpressibleByArgument { case auto, inprocess, mpi }

    @Option(help: "Where agents run: auto (MPI when launched by mpirun and built with MPI), inprocess, or mpi.")
    var backend: Kind = .auto

    /// The exchange to run on (nil: the in-process default) and whether this process reports.
    /// `strategy` is the run's mixing strategy: the MPI exchange mixes each step the way the
    /// in-process one would (sparse or GEMM), so a run's numbers do not depend on the back-end.
    func make(
        topology: Topology, weights: WeightScheme, agents: Int, seed: UInt64, strategy: MixStrategy
    ) throws -> (exchange: (any NeighborExchange)?, reports: Bool) {
        guard try usesMPI() else { return (nil, true) }
        #if MPI
        try MPISession.start()
        let ex = try MPIExchange(topology: topology, weights: weights, agents: agents, seed: seed, strategy: strategy)
        return (ex, ex.isRoot)
        #else
        return (nil, true)
        #endif
    }

    /// The placement of `rows` clients over the processes (nil: all in this process) and whether
    /// this process reports.
    func placement(rows: Int) throws -> (placement: (any RowPlacement)?, reports: Bool) {
        guard try usesMPI() else { return (nil, true) }
        #if MPI
        try MPISession.start()
        let p = try MPIRowPlacement(rows: rows)
        return (p, p.isRoot)
        #else
        return (nil, true)
        #endif
    }

    /// Whether this run goes over MPI: validates --backend, refuses `mpi` in a build without it and
    /// warns when mpirun launched a build without it (every rank would run the whole experiment).
    func usesMPI() throws -> Bool {
        switch backend {
        case .inprocess: return false
        case .auto, .mpi:
            #if MPI
            return backend == .mpi || MPIRuntime.launched
            #else
            if backend == .mpi {
                throw CLIError(
                    "this agora was built without MPI: build it with `make build-mpi` (Open MPI) and run .build-mpi/release/agora under mpirun"
                )
            }
            if mpiLaunchSize() != nil {
                FileHandle.standardError.write(
                    Data(
                        "warning: launched by mpirun, but this agora was built without MPI: every rank runs the whole experiment (make build-mpi)\n"
                            .utf8))
            }
            return false
            #endif
        }
    }
}

#if MPI
/// MPI started once per process and finished at exit; an error on any rank ends every rank.
enum MPISession {
    nonisolated(unsafe) static var started = false

    static func start() throws {
        guard !started else { return }
        _ = try MPIRuntime.start()
        started = true
        atexit { if MPISession.started { MPIRuntime.finish() } }
    }
}
#endif

/// Runs `body`; under MPI an error on this rank is printed and ends every rank (the others may be
/// waiting in a collective), instead of hanging the job.
func endingAllRanksOnError<R>(_ body: () throws -> R) throws -> R {
    do { return try body() } catch {
        #if MPI
        if MPISession.started {
            let rank = (try? MPIRuntime.rank()).map { "rank \($0): " } ?? ""
            FileHandle.standardError.write(Data("Error: \(rank)\(error)\n".utf8))
            MPIRuntime.abort(code: 1)
        }
        #endif
        throw error
    }
}

/// For commands that run in one process only: under mpirun with more than one rank every rank would
/// run the whole study and print it; refuse with the reason instead.
func refusingMPILaunch(_ command: String) throws {
    if let size = mpiLaunchSize(), size > 1 {
        throw CLIError(
            "agora \(command) runs in one process (its runs are independent); start it without mpirun. Under MPI: agora dsgd, agora mix, agora market run"
        )
    }
}

/// The rank count an MPI launcher (Open MPI, or MPICH's Hydra) announced to this process; nil
/// when it was not started by one. Read from the environment, so it works in builds without MPI.
func mpiLaunchSize() -> Int? {
    let env = ProcessInfo.processInfo.environment
    return (env["OMPI_COMM_WORLD_SIZE"] ?? env["PMI_SIZE"]).flatMap { Int($0) }
}
