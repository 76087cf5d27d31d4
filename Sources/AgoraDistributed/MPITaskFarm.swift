#if MPI
import AgoraCore
import CMPI

/// Independent tasks over MPI ranks, handed out one at a time as ranks become free (dynamic
/// assignment: a rank that draws short tasks takes more of them). Rank 0 only dispatches; with a
/// single rank it runs every task itself. What a task produces is the caller's to keep (a sweep
/// writes each cell's folder on the shared file system); the farm moves task numbers only.
public enum MPITaskFarm {
    static let requestTag: Int32 = 41, taskTag: Int32 = 42

    /// Runs `work(i)` once for every i in 0..<count, somewhere; returns on every rank when all
    /// tasks are done. `work` must not throw: record a task's failure and return, or rank 0 would
    /// wait for a request that never comes.
    public static func run(count: Int, work: (Int) -> Void) throws {
        let me = try MPIRuntime.rank(), size = try MPIRuntime.size()
        let comm = agora_mpi_comm_world()
        if size == 1 {
            for i in 0..<count { work(i) }
            return
        }
        if me == 0 {
            // Every request carries its sender's rank; the reply is the next task or -1 (stop).
            var next = 0, stopped = 0
            while stopped < size - 1 {
                var from: Int64 = 0
                try MPIRuntime.check(
                    MPI_Recv(&from, 1, agora_mpi_int64(), agora_mpi_any_source(), requestTag, comm, agora_mpi_status_ignore()),
                    "MPI_Recv", rank: me)
                var task: Int64 = -1
                if next < count {
                    task = Int64(next)
                    next += 1
                } else {
                    stopped += 1
                }
                try MPIRuntime.check(MPI_Send(&task, 1, agora_mpi_int64(), Int32(from), taskTag, comm), "MPI_Send", rank: me)
            }
        } else {
            while true {
                var mine = Int64(me), task: Int64 = -1
                try MPIRuntime.check(MPI_Send(&mine, 1, agora_mpi_int64(), 0, requestTag, comm), "MPI_Send", rank: me)
                try MPIRuntime.check(
                    MPI_Recv(&task, 1, agora_mpi_int64(), 0, taskTag, comm, agora_mpi_status_ignore()), "MPI_Recv", rank: me)
                guard task >= 0 else { break }
                work(Int(task))
            }
        }
        try MPIRuntime.barrier()
    }
}
#endif
