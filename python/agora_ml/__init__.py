"""Agora from Python: topologies, mixing matrices and the fused decentralized update, computed by
Agora's Swift kernels directly on numpy arrays (no copies; the GIL is released during each call).

Arrays must be C-contiguous float32 or float64 with one row per agent; anything else raises
TypeError or ValueError before Swift sees it, and errors from Agora raise AgoraError with Agora's
message. Results do not depend on the number of threads (AGORA_NUM_THREADS sets it).
"""
from __future__ import annotations

import ctypes
import threading
import os
from typing import Optional

import numpy as np

__all__ = ["AgoraError", "Topology", "topology", "mix", "mix_step", "dsgd_payments", "TruthfulDSGD", "solve_contract",
           "Features", "glm_gradients", "update_geometry", "market_step", "blas_info", "recommend_blas_core", "check_blas_core", "abi_version", "ABI_VERSION", "CNN", "cnn_gradients"]

#: The C ABI version this package was written for (agora.h's AGORA_ABI_VERSION).
ABI_VERSION = 4

_STATUS = {1: "argument", 2: "shape", 3: "configuration", 4: "data", 5: "io", 6: "numerical", 7: "resources"}


class AgoraError(RuntimeError):
    """An error reported by Agora; `kind` is one of argument, shape, configuration, data, io,
    numerical, resources."""

    def __init__(self, message: str, kind: str = "argument"):
        super().__init__(message)
        self.kind = kind


def recommend_blas_core() -> dict:
    """Whether OpenBLAS runs the kernels this CPU can run, and what to do when it does not.

    Debian's OpenBLAS falls back to generic SSE kernels ("Prescott", 3-4x slower) on a CPU newer
    than the library. OpenBLAS reads OPENBLAS_CORETYPE only when it loads, so this package never
    changes it for you (importing agora_ml starts no process and changes no environment variable):
    it tells you, and you set the variable before Python starts, e.g.
    `OPENBLAS_CORETYPE=SkylakeX python script.py`.

    Returns {"current": the core in this process, "recommended": a better core or None,
    "reason": why, or None}. AGORA_BLAS_ASSUME_CORE pretends OpenBLAS chose that core (for tests).
    """
    core, reason = ctypes.create_string_buffer(64), ctypes.create_string_buffer(512)
    found = _lib.agora_blas_core_advice(core, 64, reason, 512)
    current = ctypes.create_string_buffer(64)
    _lib.agora_blas_core(current, 64)
    return {"current": current.value.decode(),
            "recommended": core.value.decode() if found else None,
            "reason": reason.value.decode() if found else None}


def check_blas_core() -> Optional[str]:
    """Run sgemm, ssyrk, dgemm and dsyev of this process's OpenBLAS against naive references:
    None when they agree, else what disagreed (some OpenBLAS builds give wrong answers with some
    cores on some CPUs: check a core you set with OPENBLAS_CORETYPE once)."""
    message = ctypes.create_string_buffer(512)
    return None if _lib.agora_blas_verify(message, 512) == 0 else message.value.decode()


def blas_info() -> dict:
    """OpenBLAS's kernels in this process: {"core": the kernel set, "recommended": a better core
    for this CPU or None, "reason": why, or None}."""
    advice = recommend_blas_core()
    return {"core": advice["current"], "recommended": advice["recommended"], "reason": advice["reason"]}


def _load() -> ctypes.CDLL:
    path = os.environ.get("AGORA_ML_LIBRARY") or os.path.join(os.path.dirname(__file__), "_lib", "libAgoraC.so")
    if not os.path.exists(path):
        raise ImportError(f"agora_ml: the Agora library is missing at {path}; install the package with pip install ./python")
    lib = ctypes.CDLL(path)
    lib.agora_blas_core.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
    lib.agora_blas_core.restype = None
    lib.agora_blas_core_advice.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t]
    lib.agora_blas_core_advice.restype = ctypes.c_int32
    lib.agora_blas_verify.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
    lib.agora_blas_verify.restype = ctypes.c_int32
    c_char_p, c_int64, c_uint64, c_size_t = ctypes.c_char_p, ctypes.c_int64, ctypes.c_uint64, ctypes.c_size_t
    vp, msg = ctypes.c_void_p, ctypes.c_char_p
    lib.agora_abi_version.restype = ctypes.c_int32
    lib.agora_topology_create.argtypes = [c_char_p, c_int64, c_char_p, c_uint64, c_int64, ctypes.POINTER(vp), msg, c_size_t]
    lib.agora_topology_free.argtypes = [vp]
    lib.agora_topology_free.restype = None
    for name in ("agora_topology_agents", "agora_topology_nonzeros"):
        getattr(lib, name).argtypes = [vp]
        getattr(lib, name).restype = c_int64
    lib.agora_topology_csr.argtypes = [vp, vp, vp, vp, msg, c_size_t]
    lib.agora_topology_degrees.argtypes = [vp, vp, msg, c_size_t]
    lib.agora_topology_spectral_gap.argtypes = [vp, ctypes.POINTER(ctypes.c_double), ctypes.POINTER(ctypes.c_int32), msg, c_size_t]
    for name in ("agora_mix_f32", "agora_mix_f64"):
        getattr(lib, name).argtypes = [vp, vp, c_int64, c_int64, vp, msg, c_size_t]
    for name in ("agora_mix_step_f32", "agora_mix_step_f64"):
        getattr(lib, name).argtypes = [vp, vp, c_int64, c_int64, vp, vp, vp, msg, c_size_t]
    c_double, c_int32 = ctypes.c_double, ctypes.c_int32
    lib.agora_dsgd_payments.argtypes = [vp, c_int64, vp, c_int64, c_double, c_double, c_int32, vp, msg, c_size_t]
    lib.agora_dsgd_step_f32.argtypes = [vp, c_int64, vp, vp, c_int64, c_int64, vp, c_double, c_double, c_double, c_double,
                                        c_int32, vp, vp, msg, c_size_t]
    lib.agora_contract_solve.argtypes = [c_int64, c_int64, vp, vp, vp, c_double, c_double, c_int32, c_int64, c_uint64,
                                         vp, vp, vp, ctypes.c_char_p, c_size_t, msg, c_size_t]
    c_float = ctypes.c_float
    lib.agora_features_create_dense_f32.argtypes = [vp, c_int64, c_int64, vp, ctypes.POINTER(vp), msg, c_size_t]
    lib.agora_features_create_csr_f32.argtypes = [c_int64, c_int64, vp, vp, vp, vp, ctypes.POINTER(vp), msg, c_size_t]
    lib.agora_features_free.argtypes = [vp]
    lib.agora_features_free.restype = None
    lib.agora_glm_gradients_f32.argtypes = [vp, c_int32, c_float, vp, c_int64, c_int64, vp, vp, vp, vp, msg, c_size_t]
    lib.agora_update_geometry_f32.argtypes = [c_int64, c_int64, vp, vp, vp, vp, msg, c_size_t]
    lib.agora_cnn_parameter_count.argtypes = [c_int64, c_int64, c_int64, c_int64, vp, c_int64, vp, c_int64, vp, msg, c_size_t]
    lib.agora_cnn_gradients_f32.argtypes = [vp, c_int64, vp, c_int64, c_int64, c_int64, c_int64, vp, c_int64, vp, c_int64,
                                            c_float, vp, c_int64, c_int64, vp, vp, vp, vp, msg, c_size_t]
    lib.agora_market_step_f32.argtypes = [c_int64, c_int64, vp, vp, vp, vp, vp, vp, vp, vp, vp, vp, c_double, c_double,
                                          c_int32, c_int32, c_int32, c_uint64, vp, vp, vp, vp, vp, vp, msg, c_size_t]
    for name in ("agora_update_geometry_f32", "agora_market_step_f32", "agora_topology_create", "agora_topology_csr", "agora_topology_degrees", "agora_topology_spectral_gap",
                 "agora_mix_f32", "agora_mix_f64", "agora_mix_step_f32", "agora_mix_step_f64", "agora_dsgd_payments",
                 "agora_dsgd_step_f32", "agora_contract_solve", "agora_features_create_dense_f32",
                 "agora_features_create_csr_f32", "agora_glm_gradients_f32", "agora_cnn_parameter_count",
                 "agora_cnn_gradients_f32"):
        getattr(lib, name).restype = ctypes.c_int32
    if lib.agora_abi_version() != ABI_VERSION:
        raise ImportError(f"agora_ml expects ABI version {ABI_VERSION}, the library has {lib.agora_abi_version()}")
    return lib


_lib = _load()

if not os.environ.get("OPENBLAS_CORETYPE") and os.environ.get("AGORA_BLAS_SELECT") != "0":
    _advice = recommend_blas_core()
    if _advice["recommended"]:
        import warnings
        warnings.warn(f"agora_ml: {_advice['reason']}; OpenBLAS reads its core only at start-up, so set "
                      f"OPENBLAS_CORETYPE={_advice['recommended']} before starting Python to use it "
                      "(AGORA_BLAS_SELECT=0 silences this)", RuntimeWarning, stacklevel=2)


def abi_version() -> int:
    """The ABI version of the loaded library."""
    return int(_lib.agora_abi_version())


_local = threading.local()


def _ptr(a: np.ndarray) -> int:
    """The address of an array's data: through the buffer protocol when the array is writable (a
    third of the cost of `a.ctypes.data`, which matters for small calls), else `a.ctypes.data`."""
    try:
        return ctypes.addressof(ctypes.c_char.from_buffer(a))
    except (TypeError, ValueError, BufferError):  # read-only or empty
        return a.ctypes.data


def _call(function, *args) -> None:
    # One message buffer per thread (calls release the GIL, so threads may call at once).
    buffer = getattr(_local, "buffer", None)
    if buffer is None:
        buffer = _local.buffer = ctypes.create_string_buffer(1024)
    status = function(*args, buffer, 1024)
    if status != 0:
        raise AgoraError(buffer.value.decode("utf-8", "replace"), _STATUS.get(status, "argument"))


_METHODS = {0: "circulant", 1: "dense", 2: "lanczos"}


class Topology:
    """A communication graph and its mixing matrix W (symmetric, doubly stochastic)."""

    def __init__(self, name: str, agents: int, weights: str = "metropolis", seed: int = 0, iteration: int = 0):
        if not isinstance(name, str) or not isinstance(weights, str):
            raise TypeError("name and weights must be strings")
        for label, value in (("agents", agents), ("seed", seed), ("iteration", iteration)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
                raise TypeError(f"{label} must be an integer, got {type(value).__name__}")
        if seed < 0 or seed >= 2**64:
            raise ValueError(f"seed must be in [0, 2**64), got {seed}")
        # ctypes wraps integers past the C type silently (2**64 + 8 agents would become 8).
        for label, value in (("agents", agents), ("iteration", iteration)):
            if not -2**63 <= value < 2**63:
                raise ValueError(f"{label} must fit in 64 bits, got {value}")
        handle = ctypes.c_void_p()
        _call(_lib.agora_topology_create, name.encode(), int(agents), weights.encode(), int(seed), int(iteration),
              ctypes.byref(handle))
        self._handle = handle
        self._agents = int(_lib.agora_topology_agents(handle))
        self.name, self.weights, self.seed, self.iteration = name, weights, seed, iteration

    def __del__(self):
        handle = getattr(self, "_handle", None)
        if handle is not None and handle.value:
            _lib.agora_topology_free(handle)
            self._handle = None

    @property
    def agents(self) -> int:
        return self._agents

    @property
    def degrees(self) -> np.ndarray:
        """Neighbour count of every agent (int64)."""
        out = np.empty(self.agents, np.int64)
        _call(_lib.agora_topology_degrees, self._handle, _ptr(out))
        return out

    @property
    def spectral_gap(self) -> float:
        """1 - max(|lambda_2|, |lambda_n|) of W."""
        return self.spectral_gap_with_method()[0]

    def spectral_gap_with_method(self) -> tuple[float, str]:
        """The spectral gap and how it was computed: circulant (closed form), dense, or lanczos."""
        gap, method = ctypes.c_double(), ctypes.c_int32()
        _call(_lib.agora_topology_spectral_gap, self._handle, ctypes.byref(gap), ctypes.byref(method))
        return float(gap.value), _METHODS.get(method.value, "unknown")

    def csr(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """W as CSR arrays (row_start int64, columns int32, values float64)."""
        n, nnz = self.agents, int(_lib.agora_topology_nonzeros(self._handle))
        row_start, columns, values = np.empty(n + 1, np.int64), np.empty(nnz, np.int32), np.empty(nnz, np.float64)
        _call(_lib.agora_topology_csr, self._handle, _ptr(row_start), _ptr(columns), _ptr(values))
        return row_start, columns, values

    def weight_matrix(self):
        """W as a scipy.sparse.csr_matrix (needs scipy)."""
        try:
            from scipy.sparse import csr_matrix
        except ImportError as e:  # pragma: no cover - scipy is optional
            raise ImportError("Topology.weight_matrix needs scipy (pip install scipy)") from e
        row_start, columns, values = self.csr()
        return csr_matrix((values, columns, row_start), shape=(self.agents, self.agents))

    def __repr__(self) -> str:
        return f"Topology({self.name!r}, agents={self.agents}, weights={self.weights!r})"


def topology(name: str, agents: int, weights: str = "metropolis", seed: int = 0, iteration: int = 0) -> Topology:
    """A topology as the agora CLI spells it: ring, torus[:RxC], star, complete, exponential,
    one-peer-exponential (with `iteration`), erdos-renyi:P, regular:K, small-world:K:BETA, file:PATH."""
    return Topology(name, agents, weights, seed, iteration)


def _matrix(name: str, a, agents: int, dtype=None) -> np.ndarray:
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(a).__name__}")
    if a.dtype not in (np.float32, np.float64):
        raise TypeError(f"{name} must be float32 or float64, got {a.dtype}")
    if dtype is not None and a.dtype != dtype:
        raise TypeError(f"{name} is {a.dtype} but x is {dtype}: use one dtype")
    if a.ndim != 2:
        raise ValueError(f"{name} must be 2-dimensional (agents x dim), got {a.ndim} dimensions")
    if a.shape[0] != agents:
        raise ValueError(f"{name} has {a.shape[0]} rows but the topology has {agents} agents")
    if not a.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous (np.ascontiguousarray)")
    return a


def _output(out, x: np.ndarray) -> np.ndarray:
    if out is None:
        return np.empty_like(x)
    _matrix("out", out, x.shape[0], x.dtype)
    if out.shape != x.shape:
        raise ValueError(f"out has shape {out.shape}, expected {x.shape}")
    if not out.flags.writeable:
        raise ValueError("out is read-only")
    return out


def mix(x: np.ndarray, topology: Topology, out: Optional[np.ndarray] = None) -> np.ndarray:
    """W @ x for x of agents x dim (float32 or float64), written into `out` when given (which must
    not overlap x) and returned. A NaN or infinity in agent j's row reaches exactly j's neighbours
    (the rows i with w_ij != 0), as with scipy.sparse, whichever kernel runs."""
    x = _matrix("x", x, topology.agents)
    y = _output(out, x)
    if np.shares_memory(x, y):
        raise ValueError("out overlaps x: the output must be a separate array")
    f = _lib.agora_mix_f32 if x.dtype == np.float32 else _lib.agora_mix_f64
    _call(f, topology._handle, _ptr(x), x.shape[0], x.shape[1], _ptr(y))
    return y


def mix_step(x: np.ndarray, topology: Topology, step_sizes, directions: np.ndarray,
             out: Optional[np.ndarray] = None) -> np.ndarray:
    """The fused decentralized update W @ x - step_sizes[:, None] * directions (one pass over
    memory), into `out` when given. `step_sizes`: one per agent, or a scalar for all."""
    x = _matrix("x", x, topology.agents)
    directions = _matrix("directions", directions, topology.agents, x.dtype)
    if directions.shape != x.shape:
        raise ValueError(f"directions has shape {directions.shape}, expected {x.shape}")
    lr = np.ascontiguousarray(np.broadcast_to(np.asarray(step_sizes, dtype=x.dtype), (x.shape[0],)))
    if not np.all(np.isfinite(lr)):
        raise ValueError("step_sizes must be finite")
    y = _output(out, x)
    if np.shares_memory(x, y) or np.shares_memory(directions, y):
        raise ValueError("out overlaps x or directions: the output must be a separate array")
    f = _lib.agora_mix_step_f32 if x.dtype == np.float32 else _lib.agora_mix_step_f64
    _call(f, topology._handle, _ptr(x), x.shape[0], x.shape[1], _ptr(lr), _ptr(directions), _ptr(y))
    return y


_WEIGHTINGS = {"unit": 0, "mixing-weight": 1, "degree-normalised": 2}


def _weighting(name: str) -> int:
    if name not in _WEIGHTINGS:
        raise ValueError(f"edge_weighting must be one of {', '.join(_WEIGHTINGS)}, got {name!r}")
    return _WEIGHTINGS[name]


def _reports(reports, agents: int) -> np.ndarray:
    r = np.ascontiguousarray(reports, dtype=np.float64)
    if r.shape != (agents,):
        raise ValueError(f"reports must have one entry per agent ({agents}), got shape {r.shape}")
    return r


def dsgd_payments(reports, topology: Topology, coefficient: float, iteration: int = 0, exponent: float = 0.1,
                  edge_weighting: str = "unit") -> np.ndarray:
    """Net payments of truthful DSGD at `iteration`: P_i = sum_j C_t omega_ij (s_i - s_j) over i's
    neighbours, with C_t = coefficient (t + 1)^-exponent and s the reported squared norms of the
    applied updates (positive: the agent pays; they sum to zero)."""
    r = _reports(reports, topology.agents)
    out = np.empty(topology.agents, np.float64)
    _call(_lib.agora_dsgd_payments, topology._handle, int(iteration), _ptr(r), r.shape[0], float(coefficient),
          float(exponent), _weighting(edge_weighting), _ptr(out))
    return out


class TruthfulDSGD:
    """The truthful DSGD mechanism on a topology: each `step` moves the parameters by the fused
    mix-and-update theta <- W_t theta - lambda_t m (lambda_t = step_size (t + 1)^-step_exponent) and
    returns the payments (coefficient = 0 turns them off). float32 parameters, agents x dim."""

    def __init__(self, topology: Topology, step_size: float = 0.5, step_exponent: float = 0.6,
                 coefficient: float = 1e-4, coefficient_exponent: float = 0.1, edge_weighting: str = "unit"):
        self.topology = topology
        self.step_size, self.step_exponent = float(step_size), float(step_exponent)
        self.coefficient, self.coefficient_exponent = float(coefficient), float(coefficient_exponent)
        self.edge_weighting = _weighting(edge_weighting)
        self.iteration = 0

    def step(self, parameters: np.ndarray, applied: np.ndarray, reports=None, iteration: Optional[int] = None,
             out: Optional[np.ndarray] = None) -> tuple[np.ndarray, np.ndarray]:
        """One iteration: returns (next parameters, payments). `reports` default to the truthful
        squared norms of `applied`; `iteration` to the step counter (advanced by each call)."""
        n = self.topology.agents
        theta = _matrix("parameters", parameters, n, np.float32)
        m = _matrix("applied", applied, n, np.float32)
        if m.shape != theta.shape:
            raise ValueError(f"applied has shape {m.shape}, expected {theta.shape}")
        r = None if reports is None else _reports(reports, n)  # None: Agora computes ||applied_i||^2
        y = _output(out, theta)
        if np.shares_memory(theta, y) or np.shares_memory(m, y):
            raise ValueError("out overlaps parameters or applied: the output must be a separate array")
        t = self.iteration if iteration is None else int(iteration)
        payments = np.empty(n, np.float64)
        _call(_lib.agora_dsgd_step_f32, self.topology._handle, t, _ptr(theta), _ptr(m), n, theta.shape[1],
              None if r is None else _ptr(r), self.step_size, self.step_exponent, self.coefficient, self.coefficient_exponent,
              self.edge_weighting, _ptr(y), _ptr(payments))
        if iteration is None:
            self.iteration += 1
        return y, payments


def _vector(name: str, values, length: Optional[int] = None) -> np.ndarray:
    a = np.ascontiguousarray(values, dtype=np.float64)
    if a.ndim != 1 or (length is not None and a.shape[0] != length):
        raise ValueError(f"{name} must be a 1-dimensional list of {length if length is not None else 'per-type'} numbers, got shape {a.shape}")
    return a


def solve_contract(N: int, p, c, f=None, k: float = 1.0, valuation_scale: float = 100.0,
                   conditioning: str = "truncated", sampled: Optional[int] = None, seed: int = 1) -> dict:
    """The optimal menu of (contribution, model reward) for N participants of types with
    probabilities p and marginal costs c (reservation utilities f computed when None): a dict
    with the same keys as `agora contract --json`."""
    if not isinstance(N, (int, np.integer)) or isinstance(N, bool):
        raise TypeError(f"N must be an integer, got {type(N).__name__}")
    pa = _vector("p", p)
    ca = _vector("c", c, pa.shape[0])
    fa = None if f is None else _vector("f", f, pa.shape[0])
    if conditioning not in ("truncated", "size-biased"):
        raise ValueError(f"conditioning must be 'truncated' or 'size-biased', got {conditioning!r}")
    n = pa.shape[0]
    per_type, scalars = np.empty(7 * n), np.empty(9)
    pool_of = np.empty(n, np.int32)
    finish = ctypes.create_string_buffer(64)
    _call(_lib.agora_contract_solve, int(N), n, _ptr(pa), _ptr(ca), None if fa is None else _ptr(fa),
          float(k), float(valuation_scale), 1 if conditioning == "size-biased" else 0, int(sampled or 0), int(seed),
          _ptr(per_type), _ptr(scalars), _ptr(pool_of), finish, len(finish))
    cols = per_type.reshape(7, n)
    setting = {"N": int(N), "p": pa.tolist(), "c": ca.tolist(), "k": float(k), "valuation_scale": float(valuation_scale),
               "conditioning": conditioning}
    if fa is not None:
        setting["f"] = fa.tolist()
    pools: dict[int, list[int]] = {}
    for i, head in enumerate(pool_of.tolist()):
        pools.setdefault(head, []).append(i)
    result = {
        "setting": setting,
        "contributions": cols[0].tolist(), "values": cols[1].tolist(), "utilities": cols[2].tolist(),
        "reservationUtilities": cols[3].tolist(), "standAloneContributions": cols[4].tolist(), "rents": cols[5].tolist(),
        "budgets": cols[6].tolist(),
        "expectedValue": float(scalars[0]), "expectedAccuracy": float(scalars[1]),
        "completeInformationValue": float(scalars[2]), "informationCost": float(scalars[3]),
        "pooling": [g for g in pools.values() if len(g) > 1], "kktResidual": float(scalars[4]),
        "newtonSteps": int(scalars[5]), "solverFinish": finish.value.decode(), "outcomes": int(scalars[6]),
    }
    if sampled:
        result["samples"] = int(scalars[7])
        result["expectedValueStandardError"] = float(scalars[8])
    return result


class Features:
    """A data set for the gradient kernels, copied once into Agora: `x` a 2-D float32 array or a
    scipy.sparse CSR matrix (rows are examples), `targets` +1/-1 for logistic regression or real
    values for least squares. Parameters and gradients stay yours (no copies per step)."""

    def __init__(self, x, targets):
        y = np.ascontiguousarray(targets, dtype=np.float32)
        handle = ctypes.c_void_p()
        if isinstance(x, np.ndarray):
            if x.ndim != 2:
                raise ValueError(f"x must be 2-dimensional (rows x features), got {x.ndim} dimensions")
            xd = np.ascontiguousarray(x, dtype=np.float32)
            if y.shape != (xd.shape[0],):
                raise ValueError(f"targets must have one entry per row ({xd.shape[0]}), got shape {y.shape}")
            _call(_lib.agora_features_create_dense_f32, _ptr(xd), xd.shape[0], xd.shape[1], _ptr(y),
                  ctypes.byref(handle))
            self.shape = xd.shape
        elif hasattr(x, "tocsr"):
            c = x.tocsr()
            c.sort_indices()
            if y.shape != (c.shape[0],):
                raise ValueError(f"targets must have one entry per row ({c.shape[0]}), got shape {y.shape}")
            starts = np.ascontiguousarray(c.indptr, dtype=np.int64)
            cols = np.ascontiguousarray(c.indices, dtype=np.int32)
            vals = np.ascontiguousarray(c.data, dtype=np.float32)
            _call(_lib.agora_features_create_csr_f32, c.shape[0], c.shape[1], _ptr(starts), _ptr(cols),
                  _ptr(vals), _ptr(y), ctypes.byref(handle))
            self.shape = c.shape
        else:
            raise TypeError(f"x must be a numpy array or a scipy.sparse matrix, got {type(x).__name__}")
        self._handle = handle

    def __del__(self):
        handle = getattr(self, "_handle", None)
        if handle is not None and handle.value:
            _lib.agora_features_free(handle)
            self._handle = None


def _batches(batches, agents: int) -> tuple[np.ndarray, np.ndarray]:
    """Every agent's row indices in CSR form: (starts[agents + 1], flat rows), int64."""
    if len(batches) != agents:
        raise ValueError(f"one batch per agent: {len(batches)} batches for {agents} agents")
    rows = []
    for a, b in enumerate(batches):
        r = np.asarray(b)
        if r.size and not np.issubdtype(r.dtype, np.integer):
            # Row indices: 2.7 is no row (a float index used to be truncated to 2 silently).
            raise TypeError(f"batches[{a}] must hold integer row indices, got dtype {r.dtype}")
        rows.append(r.astype(np.int64, copy=False).ravel())
    starts = np.zeros(agents + 1, np.int64)
    starts[1:] = np.cumsum([r.shape[0] for r in rows])
    return starts, np.ascontiguousarray(np.concatenate(rows) if rows else np.zeros(0, np.int64))


def glm_gradients(features: Features, parameters: np.ndarray, batches, loss: str = "logistic", l2: float = 0.0,
                  out: Optional[np.ndarray] = None, losses: Optional[np.ndarray] = None) -> tuple[np.ndarray, np.ndarray]:
    """Every agent's mini-batch gradient at once: row a of the result is
    mean_{i in batches[a]} l'(x_i . theta_a, y_i) x_i + l2 theta_a (float32, agents x features),
    with the mean losses (plus (l2/2)||theta_a||^2). `loss`: logistic or squared."""
    if loss not in ("logistic", "squared"):
        raise ValueError(f"loss must be 'logistic' or 'squared', got {loss!r}")
    if not isinstance(parameters, np.ndarray) or parameters.ndim != 2:
        raise TypeError("parameters must be a 2-D numpy array (agents x features)")
    agents = parameters.shape[0]
    theta = _matrix("parameters", parameters, agents, np.float32)
    if theta.shape[1] != features.shape[1]:
        raise ValueError(f"parameters have {theta.shape[1]} columns but the features have {features.shape[1]}")
    starts, flat = _batches(batches, agents)
    g = _output(out, theta)
    if np.shares_memory(theta, g):
        raise ValueError("out overlaps parameters: the output must be a separate array")
    lo = np.empty(agents, np.float32) if losses is None else losses
    if not isinstance(lo, np.ndarray) or lo.dtype != np.float32 or lo.shape != (agents,) or not lo.flags.c_contiguous:
        raise ValueError(f"losses must be a contiguous float32 array of {agents} entries")
    if np.shares_memory(lo, theta) or np.shares_memory(lo, g):
        raise ValueError("losses overlaps parameters or out: it must be a separate array")
    _call(_lib.agora_glm_gradients_f32, features._handle, 0 if loss == "logistic" else 1, float(l2), _ptr(theta),
          agents, theta.shape[1], _ptr(starts), _ptr(flat) if flat.size else None, _ptr(g), _ptr(lo))
    return g, lo


class CNN:
    """A LeNet-style convolutional network: images of `channels x height x width` (rows in
    (C, H, W) order), `convolutions` as (out channels, kernel, padding) triples (each followed by
    ReLU and a 2 x 2 max-pool), `hidden` dense ReLU widths, then `classes` scores. The parameters
    are one flat row in PyTorch's state_dict order. `CNN.simplecnn(...)` is the iPFL reference's
    SimpleCNN (62,006 parameters on 3 x 32 x 32, 44,426 on 1 x 28 x 28)."""

    def __init__(self, channels: int, height: int, width: int, convolutions, hidden, classes: int):
        self.channels, self.height, self.width, self.classes = int(channels), int(height), int(width), int(classes)
        self.convolutions = [tuple(int(v) for v in c) for c in convolutions]
        if any(len(c) != 3 for c in self.convolutions):
            raise ValueError("convolutions must be (out channels, kernel, padding) triples")
        self.hidden = [int(h) for h in hidden]
        self._conv = np.ascontiguousarray(np.array(self.convolutions, np.int64).reshape(-1))
        self._hidden = np.ascontiguousarray(np.array(self.hidden, np.int64))
        count = ctypes.c_int64()
        _call(_lib.agora_cnn_parameter_count, *self._shape_args(), ctypes.byref(count))
        self.parameter_count = count.value

    @classmethod
    def simplecnn(cls, channels: int = 3, size: int = 32, classes: int = 10) -> "CNN":
        return cls(channels, size, size, [(6, 5, 0), (16, 5, 0)], [120, 84], classes)

    @property
    def inputs(self) -> int:
        return self.channels * self.height * self.width

    def _shape_args(self):
        return (self.channels, self.height, self.width, len(self.convolutions),
                _ptr(self._conv) if self._conv.size else None, len(self.hidden),
                _ptr(self._hidden) if self._hidden.size else None, self.classes)

    def __repr__(self) -> str:
        return (f"CNN({self.channels}x{self.height}x{self.width}, convolutions={self.convolutions}, "
                f"hidden={self.hidden}, classes={self.classes}, parameters={self.parameter_count})")


def cnn_gradients(network: CNN, images: np.ndarray, labels, parameters: np.ndarray, batches, l2: float = 0.0
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Every agent's mini-batch gradient of `network` at once: row a of the result is the mean
    softmax cross-entropy gradient over images[batches[a]] at parameters[a], plus l2 * parameters[a]
    (float32, agents x parameter_count), with the mean losses (plus (l2/2)||theta_a||^2). `images`:
    rows x channels x height x width (or rows x inputs), float32; `labels`: classes 0..classes-1."""
    if not isinstance(network, CNN):
        raise TypeError("network must be an agora_ml.CNN")
    x = np.ascontiguousarray(images, dtype=np.float32)
    if x.ndim < 2 or int(np.prod(x.shape[1:])) != network.inputs:
        raise ValueError(f"images must be rows x {network.channels} x {network.height} x {network.width} "
                         f"({network.inputs} values per row), got shape {x.shape}")
    rows = x.shape[0]
    y = np.ascontiguousarray(labels, dtype=np.int32)
    if y.shape != (rows,):
        raise ValueError(f"labels must have one entry per image ({rows}), got shape {y.shape}")
    if not isinstance(parameters, np.ndarray) or parameters.ndim != 2:
        raise TypeError("parameters must be a 2-D numpy array (agents x parameter_count)")
    agents = parameters.shape[0]
    theta = _matrix("parameters", parameters, agents, np.float32)
    if theta.shape[1] != network.parameter_count:
        raise ValueError(f"parameters have {theta.shape[1]} columns but the network has {network.parameter_count}")
    starts, flat = _batches(batches, agents)
    g = np.empty_like(theta)
    lo = np.empty(agents, np.float32)
    _call(_lib.agora_cnn_gradients_f32, _ptr(x), rows, _ptr(y), *network._shape_args(), float(l2), _ptr(theta), agents,
          theta.shape[1], _ptr(starts), _ptr(flat) if flat.size else None, _ptr(g), _ptr(lo))
    return g, lo


def _models(name: str, a) -> np.ndarray:
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(a).__name__}")
    if a.dtype != np.float32:
        raise TypeError(f"{name} must be float32 (the market's models), got {a.dtype}")
    if a.ndim != 2 or a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"{name} must be 2-dimensional (clients x parameters), got shape {a.shape}")
    if not a.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous (np.ascontiguousarray)")
    return a


def _origin(origin, params: int) -> np.ndarray:
    o = np.ascontiguousarray(origin, dtype=np.float32)
    if o.ndim != 1 or o.shape[0] != params:
        raise ValueError(f"origin must hold {params} parameters (one model), got shape {o.shape}")
    return o


def update_geometry(models: np.ndarray, origin) -> tuple[np.ndarray, np.ndarray]:
    """Norms ||u_i|| and cosines cos(u_i, u_j) of the updates u_i = models_i - origin (float32
    clients x parameters), from one Gram matrix: (norms[clients], cosines[clients, clients])."""
    x = _models("models", models)
    o = _origin(origin, x.shape[1])
    m = x.shape[0]
    norms = np.empty(m, np.float32)
    cosines = np.empty((m, m), np.float32)
    _call(_lib.agora_update_geometry_f32, m, x.shape[1], _ptr(x), _ptr(o), _ptr(norms), _ptr(cosines))
    return norms, cosines


_DISTANCES = {"cosine": 0, "squared-l2": 1}
_TIES = {"index": 0, "random": 1}
_CENTRE_STEPS = {"relative": 0, "absolute": 1}


def market_step(uploaded: np.ndarray, origin, sizes, costs, eagerness, truth: Optional[dict] = None, active=None,
                settled=None, lam: float = 2.0, eta: float = 1.0, distance: str = "cosine", tie_break: str = "index",
                centre_step: str = "relative", seed: int = 0, centres_out: Optional[np.ndarray] = None) -> dict:
    """One server step of the iPFL model-sharing market over the uploaded models (float32 clients x
    parameters, measured as updates from `origin`) with the clients' reported data sizes, export
    costs and eagerness (`truth`: a dict with the same three keys for the utilities; default the
    reports). `active`: a boolean mask of clients in the market (default all). `settled`: a boolean
    mask of the buyers whose purchases are paid for (default all); a buyer left out (its training
    will not use what it bought) keeps its imports but pays, gains and costs its exporters nothing.

    Returns a dict: imports (list of lists, purchase order), payments (clients x clients, r_ij paid
    by i to j), net_payments, utilities, distances (clients x clients) and centres (clients x
    parameters, written into `centres_out` when given). The market is Agora's default (scale-free
    `relative` centre step, eta 1); `centre_step="absolute", eta=5` is the paper's reference code."""
    x = _models("uploaded", uploaded)
    m, p = x.shape
    o = _origin(origin, p)
    rep = [_vector(name, v, m) for name, v in (("sizes", sizes), ("costs", costs), ("eagerness", eagerness))]
    if truth is None:
        tru = [None, None, None]
    else:
        missing = {"sizes", "costs", "eagerness"} - set(truth)
        if missing:
            raise ValueError(f"truth needs sizes, costs and eagerness; missing {sorted(missing)}")
        tru = [_vector("truth " + k, truth[k], m) for k in ("sizes", "costs", "eagerness")]
    def flags(name, value):
        if value is None:
            return None
        f = np.ascontiguousarray(value, dtype=np.uint8)
        if f.shape != (m,):
            raise ValueError(f"{name} must hold one flag per client ({m}), got shape {f.shape}")
        return f
    mask, settle_mask = flags("active", active), flags("settled", settled)
    for name, table in (("distance", _DISTANCES), ("tie_break", _TIES), ("centre_step", _CENTRE_STEPS)):
        value = {"distance": distance, "tie_break": tie_break, "centre_step": centre_step}[name]
        if value not in table:
            raise ValueError(f"{name} must be one of {', '.join(table)}, got {value!r}")
    centres = np.empty((m, p), np.float32) if centres_out is None else centres_out
    if not (isinstance(centres, np.ndarray) and centres.dtype == np.float32 and centres.shape == (m, p)
            and centres.flags.c_contiguous and centres.flags.writeable):
        raise ValueError(f"centres_out must be a writeable C-contiguous float32 array of shape {(m, p)}")
    imports = np.empty((m, m), np.int32)
    payments = np.empty((m, m), np.float64)
    net = np.empty(m, np.float64)
    utilities = np.empty(m, np.float64)
    distances = np.empty((m, m), np.float64)
    ptr = lambda a: None if a is None else a.ctypes.data
    _call(_lib.agora_market_step_f32, m, p, _ptr(x), _ptr(o), ptr(rep[0]), ptr(rep[1]), ptr(rep[2]),
          ptr(tru[0]), ptr(tru[1]), ptr(tru[2]), ptr(mask), ptr(settle_mask), float(lam), float(eta), _DISTANCES[distance],
          _TIES[tie_break], _CENTRE_STEPS[centre_step], int(seed), _ptr(imports), _ptr(payments),
          _ptr(net), _ptr(utilities), _ptr(distances), _ptr(centres))
    return {"imports": [[int(j) for j in row if j >= 0] for row in imports], "payments": payments,
            "net_payments": net, "utilities": utilities, "distances": distances, "centres": centres}
