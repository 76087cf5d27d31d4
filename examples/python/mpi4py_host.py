"""mpi4py hosts the processes, Agora computes: decentralized SGD over MPI ranks from Python.

Each rank holds a block of agents' data and computes their gradients with agora_ml.glm_gradients;
the blocks' gradients and parameters are gathered to every rank (mpi4py Allgather) and each rank
applies the truthful-DSGD step with agora_ml, so every rank holds the same parameters. At the end
rank 0 checks that the result equals a single-process run bit for bit. (Agora's own MPI back-end,
`make build-mpi` and `mpirun ... agora dsgd`, exchanges neighbour rows only; this example shows
the embedding pattern.)

    mpirun -np 2 python examples/python/mpi4py_host.py
"""
import numpy as np
from mpi4py import MPI

import agora_ml


def run(comm, agents=8, iterations=50, dim=12, batch=8):
    rank, size = (comm.Get_rank(), comm.Get_size()) if comm is not None else (0, 1)
    rng = np.random.default_rng(7)  # the same data and batches on every rank
    x = rng.standard_normal((agents * 100, dim)).astype(np.float32)
    y = np.where(x @ rng.standard_normal(dim) > 0, 1.0, -1.0).astype(np.float32)
    shards = np.array_split(np.arange(len(x)), agents)
    block = np.array_split(np.arange(agents), size)[rank]
    features = agora_ml.Features(x, y)
    mechanism = agora_ml.TruthfulDSGD(agora_ml.topology("ring", agents), coefficient=1e-3)
    theta = np.zeros((agents, dim), np.float32)
    ledger = np.zeros(agents)
    for t in range(iterations):
        batches = [rng.choice(s, batch) for s in shards]
        mine = np.empty((len(block), dim), np.float32)
        agora_ml.glm_gradients(features, np.ascontiguousarray(theta[block]), [batches[a] for a in block], l2=1e-3, out=mine)
        grads = np.empty_like(theta)
        if comm is not None:
            counts = [len(b) * dim for b in np.array_split(np.arange(agents), size)]
            comm.Allgatherv(mine, [grads, counts])
        else:
            grads[:] = mine
        theta, payments = mechanism.step(theta, grads)
        ledger += payments
    return theta, ledger


if __name__ == "__main__":
    comm = MPI.COMM_WORLD
    theta, ledger = run(comm)
    if comm.Get_rank() == 0:
        alone, alone_ledger = run(None)
        same = np.array_equal(theta, alone) and np.array_equal(ledger, alone_ledger)
        print(f"{comm.Get_size()} ranks: parameters and payments {'identical to' if same else 'DIFFERENT from'} one process; "
              f"max |theta| {np.abs(theta).max():.4f}, budget residual {abs(ledger.sum()):.1e}")
        raise SystemExit(0 if same else 1)
