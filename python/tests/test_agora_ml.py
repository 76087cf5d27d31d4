"""agora_ml against numpy/scipy references: answers, bad input, no copies, the GIL."""
import os

import numpy as np
import pytest

import agora_ml

# scipy is the reference here; outside CI a missing scipy skips the module, in CI
# (AGORA_TEST_REQUIRE_ALL=1) it is an error: a suite that skips proves nothing.
if os.environ.get("AGORA_TEST_REQUIRE_ALL") == "1":
    import scipy.sparse as scipy_sparse
else:
    scipy_sparse = pytest.importorskip("scipy.sparse")


def dense_w(t):
    return t.weight_matrix().toarray()


@pytest.mark.parametrize("name", ["ring", "torus", "exponential", "complete", "star", "small-world:4:0.1", "regular:3"])
def test_weight_matrix_is_a_valid_mixing_matrix(name):
    t = agora_ml.topology(name, 12, seed=3)
    w = dense_w(t)
    assert w.shape == (12, 12)
    assert np.allclose(w, w.T, atol=1e-15)
    assert np.allclose(w.sum(axis=0), 1, atol=1e-12) and np.allclose(w.sum(axis=1), 1, atol=1e-12)
    assert (w >= 0).all()
    assert np.array_equal(t.degrees, (w != 0).sum(axis=1) - 1)


@pytest.mark.parametrize("name", ["ring", "exponential", "torus", "small-world:4:0.1"])
def test_spectral_gap_matches_numpy_eigvalsh(name):
    t = agora_ml.topology(name, 30, seed=1)
    ev = np.linalg.eigvalsh(dense_w(t))
    expected = 1 - max(abs(ev[-2]), abs(ev[0]))
    gap, method = t.spectral_gap_with_method()
    assert gap == pytest.approx(expected, abs=1e-12)
    assert method in ("circulant", "dense", "lanczos")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("dim", [1, 7, 16, 100])
def test_mix_equals_w_at_x(dtype, dim):
    rng = np.random.default_rng(5)
    t = agora_ml.topology("exponential", 33)
    x = rng.standard_normal((33, dim)).astype(dtype)
    y = agora_ml.mix(x, t)
    ref = dense_w(t) @ x.astype(np.float64)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert y.dtype == dtype and y.shape == x.shape
    assert np.allclose(y, ref, rtol=tol, atol=tol)


def test_mix_writes_into_out_without_copies():
    t = agora_ml.topology("ring", 8)
    x = np.ones((8, 3), np.float32)
    out = np.full((8, 3), np.nan, np.float32)
    y = agora_ml.mix(x, t, out=out)
    assert y is out
    assert np.allclose(out, 1)  # W is doubly stochastic: W 1 = 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mix_step_is_the_fused_update(dtype):
    rng = np.random.default_rng(7)
    t = agora_ml.topology("torus:4x4", 16)
    x = rng.standard_normal((16, 20)).astype(dtype)
    m = rng.standard_normal((16, 20)).astype(dtype)
    lr = rng.uniform(0.01, 0.1, 16)
    y = agora_ml.mix_step(x, t, lr, m)
    ref = dense_w(t) @ x.astype(np.float64) - lr[:, None] * m.astype(np.float64)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert np.allclose(y, ref, rtol=tol, atol=tol)
    # A scalar step size means the same for every agent.
    assert np.array_equal(agora_ml.mix_step(x, t, 0.05, m), agora_ml.mix_step(x, t, np.full(16, 0.05), m))


def test_bad_input_raises_clear_errors():
    t = agora_ml.topology("ring", 8)
    with pytest.raises(TypeError, match="float32 or float64"):
        agora_ml.mix(np.ones((8, 3), np.int64), t)
    with pytest.raises(TypeError, match="numpy array"):
        agora_ml.mix([[1.0]] * 8, t)
    with pytest.raises(ValueError, match="8 agents"):
        agora_ml.mix(np.ones((7, 3), np.float32), t)
    with pytest.raises(ValueError, match="C-contiguous"):
        agora_ml.mix(np.ones((3, 8), np.float32).T, t)
    with pytest.raises(ValueError, match="2-dimensional"):
        agora_ml.mix(np.ones(8, np.float32), t)
    x = np.ones((8, 3), np.float32)
    with pytest.raises(ValueError, match="overlaps"):
        agora_ml.mix(x, t, out=x)
    with pytest.raises(TypeError, match="use one dtype"):
        agora_ml.mix(x, t, out=np.empty((8, 3), np.float64))
    with pytest.raises(agora_ml.AgoraError, match="Topology 'ring:5'") as e:
        agora_ml.topology("ring:5", 8)
    assert e.value.kind == "configuration"
    with pytest.raises(agora_ml.AgoraError, match="weights 'nope'"):
        agora_ml.topology("ring", 8, weights="nope")
    with pytest.raises(agora_ml.AgoraError, match="at least 1"):
        agora_ml.topology("ring", 0)
    with pytest.raises(agora_ml.AgoraError, match="needs about"):
        agora_ml.topology("complete", 1_000_000)
    with pytest.raises(TypeError):
        agora_ml.topology("ring", 8.5)


def test_the_library_is_called_without_the_gil():
    # ctypes.CDLL releases the GIL around every foreign call; ctypes.PyDLL would hold it. A
    # structural check, not a timing one: timing the other thread would flake on a busy machine.
    import ctypes

    assert isinstance(agora_ml._lib, ctypes.CDLL) and not isinstance(agora_ml._lib, ctypes.PyDLL)


def test_abi_version():
    assert agora_ml.abi_version() == agora_ml.ABI_VERSION == 4


@pytest.mark.parametrize("weighting", ["unit", "mixing-weight", "degree-normalised"])
def test_dsgd_payments_follow_the_rule_and_balance(weighting):
    rng = np.random.default_rng(9)
    t = agora_ml.topology("small-world:4:0.2", 20, seed=2)
    s = rng.uniform(0, 3, 20)
    p = agora_ml.dsgd_payments(s, t, coefficient=0.5, iteration=3, exponent=0.1, edge_weighting=weighting)
    w = dense_w(t)
    deg = t.degrees
    c = 0.5 * 4 ** -0.1
    expected = np.zeros(20)
    for i in range(20):
        for j in range(20):
            if i != j and w[i, j] != 0:
                omega = {"unit": 1.0, "mixing-weight": w[i, j], "degree-normalised": 2.0 / (deg[i] + deg[j])}[weighting]
                expected[i] += c * omega * (s[i] - s[j])
    assert np.allclose(p, expected, rtol=1e-12, atol=1e-14)
    assert abs(p.sum()) < 1e-12


def test_truthful_dsgd_step_is_mix_and_payments():
    rng = np.random.default_rng(10)
    t = agora_ml.topology("exponential", 16)
    theta = rng.standard_normal((16, 30)).astype(np.float32)
    g = rng.standard_normal((16, 30)).astype(np.float32)
    mech = agora_ml.TruthfulDSGD(t, step_size=0.2, step_exponent=0.6, coefficient=1e-2, coefficient_exponent=0.1)
    nxt, pay = mech.step(theta, g)
    assert mech.iteration == 1
    ref = dense_w(t) @ theta.astype(np.float64) - 0.2 * g.astype(np.float64)
    assert np.allclose(nxt, ref, rtol=1e-5, atol=1e-5)
    s = np.einsum("ij,ij->i", g, g, dtype=np.float64)
    assert np.allclose(pay, agora_ml.dsgd_payments(s, t, coefficient=1e-2, iteration=0), rtol=1e-12)
    # Payments off: the same update, no money.
    off = agora_ml.TruthfulDSGD(t, step_size=0.2, coefficient=0)
    nxt_off, pay_off = off.step(theta, g)
    assert np.array_equal(nxt_off, nxt) and not pay_off.any()
    with pytest.raises(ValueError, match="one entry per agent"):
        mech.step(theta, g, reports=np.ones(3))
    with pytest.raises(agora_ml.AgoraError, match="reports"):
        mech.step(theta, g, reports=-np.ones(16))
    with pytest.raises(TypeError):
        mech.step(theta.astype(np.float64), g)


def test_solve_contract_matches_the_cli_scenario_s3_and_its_invariants():
    # Scenario S3 of the paper (big and small parties); the CLI's `agora contract s3 --json`
    # gives E[v(a)] = 94.0134924 (and the scipy peer agrees to 1.3e-6, see the benchmark).
    menu = agora_ml.solve_contract(10, [0.2] * 5, [0.5, 0.4, 0.03, 0.02, 0.001])
    assert menu["expectedValue"] == pytest.approx(94.01349242653241, abs=1e-8)
    assert menu["pooling"] == [[0, 1], [2, 3]]
    assert menu["kktResidual"] < 1e-9
    assert set(menu) >= {"setting", "contributions", "values", "utilities", "reservationUtilities", "rents", "budgets",
                         "expectedAccuracy", "completeInformationValue", "informationCost", "newtonSteps", "solverFinish",
                         "outcomes"}
    c = np.array(menu["setting"]["c"])
    m, t, f = np.array(menu["contributions"]), np.array(menu["values"]), np.array(menu["reservationUtilities"])
    u = t - c * m
    assert np.allclose(u, menu["utilities"], atol=1e-9)
    assert (u >= f - 1e-7).all(), "individual rationality"
    for i in range(5):  # incentive compatibility: no type prefers another's contract
        assert (u[i] >= t - c[i] * m - 1e-7).all()


def test_solve_contract_rejects_bad_settings():
    with pytest.raises(agora_ml.AgoraError, match="sums to"):
        agora_ml.solve_contract(10, [0.5, 0.6], [1, 2])
    with pytest.raises(ValueError, match="list of 2"):
        agora_ml.solve_contract(10, [0.5, 0.5], [1, 2, 3])
    with pytest.raises(agora_ml.AgoraError, match="types"):
        agora_ml.solve_contract(10, [1 / 30] * 30, list(range(1, 31)))
    with pytest.raises(agora_ml.AgoraError, match="not finite"):
        agora_ml.solve_contract(10, [0.5, 0.5], [1, float("nan")])


def numpy_glm(x, y, theta, batches, loss, l2):
    g = np.zeros_like(theta, dtype=np.float64)
    losses = np.zeros(theta.shape[0])
    for a, b in enumerate(batches):
        xb, yb = x[b].astype(np.float64), y[b].astype(np.float64)
        z = xb @ theta[a].astype(np.float64)
        if loss == "logistic":
            dz = -yb / (1 + np.exp(yb * z))
            l = np.log1p(np.exp(-yb * z))
        else:
            dz = z - yb
            l = 0.5 * (z - yb) ** 2
        g[a] = dz @ xb / len(b) + l2 * theta[a]
        losses[a] = l.mean() + l2 / 2 * float(theta[a].astype(np.float64) @ theta[a])
    return g, losses


@pytest.mark.parametrize("loss", ["logistic", "squared"])
@pytest.mark.parametrize("sparse", [False, True])
def test_glm_gradients_match_numpy(loss, sparse):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((200, 37)).astype(np.float32)
    x[rng.random(x.shape) < 0.6] = 0
    y = np.where(rng.random(200) < 0.5, -1.0, 1.0).astype(np.float32)
    theta = (0.1 * rng.standard_normal((9, 37))).astype(np.float32)
    batches = [rng.integers(0, 200, 5 + a) for a in range(9)]
    f = agora_ml.Features(scipy_sparse.csr_matrix(x) if sparse else x, y)
    out = np.empty_like(theta)
    g, l = agora_ml.glm_gradients(f, theta, batches, loss=loss, l2=1e-3, out=out)
    assert g is out
    rg, rl = numpy_glm(x, y, theta, batches, loss, 1e-3)
    assert np.allclose(g, rg, rtol=1e-4, atol=1e-5)
    assert np.allclose(l, rl, rtol=1e-4, atol=1e-5)


def test_glm_gradients_reject_bad_input():
    x = np.ones((10, 3), np.float32)
    f = agora_ml.Features(x, np.ones(10))
    theta = np.zeros((2, 3), np.float32)
    with pytest.raises(agora_ml.AgoraError, match="outside"):
        agora_ml.glm_gradients(f, theta, [[0, 1], [99]])
    with pytest.raises(ValueError, match="one batch per agent"):
        agora_ml.glm_gradients(f, theta, [[0]])
    with pytest.raises(ValueError, match="columns"):
        agora_ml.glm_gradients(f, np.zeros((2, 4), np.float32), [[0], [1]])
    with pytest.raises(agora_ml.AgoraError, match="not finite"):
        agora_ml.Features(np.full((2, 2), np.nan, np.float32), np.ones(2))


# The model market: update geometry and one server step, against numpy.

def market_inputs(m=9, p=40, seed=11):
    rng = np.random.default_rng(seed)
    origin = rng.standard_normal(p).astype(np.float32) * 0.1
    # Three groups of similar updates, so that some clients buy and some do not.
    centres = rng.standard_normal((3, p))
    uploaded = (origin + centres[np.arange(m) % 3] + 0.3 * rng.standard_normal((m, p))).astype(np.float32)
    sizes = rng.uniform(50, 500, m)
    costs = rng.uniform(0, 0.5, m)
    eagerness = np.full(m, 5e5)
    return uploaded, origin, sizes, costs, eagerness


def marginal_gain(k, before, added):
    return np.sqrt(k) * (1 / np.sqrt(before) - 1 / np.sqrt(before + added))


def test_update_geometry_matches_numpy():
    uploaded, origin, *_ = market_inputs()
    norms, cosines = agora_ml.update_geometry(uploaded, origin)
    u = uploaded.astype(np.float64) - origin
    n = np.linalg.norm(u, axis=1)
    assert np.allclose(norms, n, rtol=1e-5)
    assert np.allclose(cosines, (u @ u.T) / np.outer(n, n), atol=1e-5)


@pytest.mark.parametrize("lam", [0.5, 2.0])
def test_market_step_payments_and_utilities_follow_the_rule(lam):
    uploaded, origin, sizes, costs, eagerness = market_inputs()
    r = agora_ml.market_step(uploaded, origin, sizes, costs, eagerness, lam=lam)
    m = len(sizes)
    u = uploaded.astype(np.float64) - origin
    n = np.linalg.norm(u, axis=1)
    d = 1 - (u @ u.T) / np.outer(n, n)
    np.fill_diagonal(d, 0)
    assert np.allclose(r["distances"], d, atol=1e-5)
    assert sum(len(js) for js in r["imports"]) > 0, "the fixture should produce purchases"
    net = np.zeros(m)
    buyers = np.zeros(m)
    for i, js in enumerate(r["imports"]):
        total = sizes[i] + sizes[js].sum()
        for j in js:
            expected = marginal_gain(eagerness[i], total - sizes[j], sizes[j]) - lam * sizes[j] / sizes[i] * r["distances"][i, j]
            assert r["payments"][i, j] == pytest.approx(expected, rel=1e-9, abs=1e-9)
            net[i] += r["payments"][i, j]
            net[j] -= r["payments"][i, j]
            buyers[j] += 1
        others = [j for j in range(m) if j not in js]
        assert np.all(r["payments"][i, others] == 0)
    assert np.allclose(r["net_payments"], net, atol=1e-9)
    assert abs(r["net_payments"].sum()) < 1e-8, "budget balance"
    gains = np.array([marginal_gain(eagerness[i], sizes[i], sizes[js].sum()) for i, js in enumerate(r["imports"])])
    assert np.allclose(r["utilities"], gains - costs * buyers - net, atol=1e-8)


def test_market_step_absolute_squared_l2_centres_match_the_formula():
    uploaded, origin, sizes, costs, eagerness = market_inputs(m=6, p=12, seed=4)
    out = np.zeros((6, 12), np.float32)
    r = agora_ml.market_step(uploaded, origin, sizes, costs, eagerness, distance="squared-l2", centre_step="absolute",
                             eta=0.05, lam=1e-3, centres_out=out)
    assert r["centres"] is out, "the centres are written into centres_out"
    u = uploaded.astype(np.float64) - origin
    expected = uploaded.astype(np.float64).copy()
    for i, js in enumerate(r["imports"]):
        for j in js:
            expected[i] += 0.05 * 2 * sizes[j] / sizes[i] * (u[j] - u[i])
    assert np.allclose(out, expected, atol=1e-4)


def test_market_step_inactive_clients_neither_buy_nor_sell():
    uploaded, origin, sizes, costs, eagerness = market_inputs()
    active = np.ones(len(sizes), bool)
    active[[1, 4]] = False
    r = agora_ml.market_step(uploaded, origin, sizes, costs, eagerness, active=active)
    assert r["imports"][1] == [] and r["imports"][4] == []
    assert all(1 not in js and 4 not in js for js in r["imports"])


def test_market_step_unsettled_buyers_keep_their_imports_and_pay_nothing():
    uploaded, origin, sizes, costs, eagerness = market_inputs()
    full = agora_ml.market_step(uploaded, origin, sizes, costs, eagerness)
    buyers = [i for i, js in enumerate(full["imports"]) if js]
    assert len(buyers) >= 2, "the fixture should have several buyers"
    settled = np.ones(len(sizes), bool)
    settled[buyers[0]] = False
    r = agora_ml.market_step(uploaded, origin, sizes, costs, eagerness, settled=settled)
    assert r["imports"] == full["imports"], "the learned graph does not depend on who pays"
    assert np.all(r["payments"][buyers[0]] == 0)
    for i in buyers[1:]:
        assert np.array_equal(r["payments"][i], full["payments"][i]), "a settled payment is the full market's"
    assert abs(r["net_payments"].sum()) < 1e-8, "budget balance"
    sold = np.array([sum(j in js for i, js in enumerate(r["imports"]) if settled[i]) for j in range(len(sizes))])
    paid = r["payments"].sum(axis=1) - r["payments"].sum(axis=0)
    gains = np.array([marginal_gain(eagerness[i], sizes[i], sizes[js].sum()) if settled[i] else 0.0
                      for i, js in enumerate(r["imports"])])
    assert np.allclose(r["net_payments"], paid, atol=1e-9)
    assert np.allclose(r["utilities"], gains - costs * sold - paid, atol=1e-8)
    with pytest.raises(ValueError, match="settled must hold one flag per client"):
        agora_ml.market_step(uploaded, origin, sizes, costs, eagerness, settled=[True])


def test_market_step_truth_changes_utilities_not_the_market():
    uploaded, origin, sizes, costs, eagerness = market_inputs()
    honest = agora_ml.market_step(uploaded, origin, sizes, costs, eagerness)
    truth = {"sizes": sizes, "costs": costs * 2, "eagerness": eagerness}
    told = agora_ml.market_step(uploaded, origin, sizes, costs, eagerness, truth=truth)
    assert told["imports"] == honest["imports"]
    assert np.array_equal(told["payments"], honest["payments"])
    buyers = np.array([sum(j in js for js in honest["imports"]) for j in range(len(sizes))])
    assert np.allclose(honest["utilities"] - told["utilities"], costs * buyers, atol=1e-9)


def test_market_step_refuses_bad_input():
    uploaded, origin, sizes, costs, eagerness = market_inputs()
    with pytest.raises(TypeError, match="float32"):
        agora_ml.market_step(uploaded.astype(np.float64), origin, sizes, costs, eagerness)
    with pytest.raises(ValueError, match="origin"):
        agora_ml.market_step(uploaded, origin[:-1], sizes, costs, eagerness)
    bad = sizes.copy()
    bad[2] = -1
    with pytest.raises(agora_ml.AgoraError, match="client 2"):
        agora_ml.market_step(uploaded, origin, bad, costs, eagerness)
    nan = uploaded.copy()
    nan[3, 5] = np.nan
    with pytest.raises(agora_ml.AgoraError, match=r"uploaded\[3\]\[5\]"):
        agora_ml.market_step(nan, origin, sizes, costs, eagerness)
    with pytest.raises(ValueError, match="centre_step"):
        agora_ml.market_step(uploaded, origin, sizes, costs, eagerness, centre_step="sideways")
    with pytest.raises(agora_ml.AgoraError, match="lambda"):
        agora_ml.market_step(uploaded, origin, sizes, costs, eagerness, lam=-1)


def test_import_starts_no_process_and_reports_a_generic_core(tmp_path):
    """A fresh `import agora_ml` starts no subprocess, writes no file and leaves the environment
    alone; with OpenBLAS pretending to have chosen generic kernels it recommends the core the CPU
    supports (and warns once), and check_blas_core() checks the running core's answers."""
    import json
    import subprocess
    import sys
    code = (
        "import os, json, subprocess, warnings\n"
        "calls = []\n"
        "real = subprocess.Popen.__init__\n"
        "def spy(self, *a, **k):\n"
        "    calls.append(a)\n"
        "    return real(self, *a, **k)\n"
        "subprocess.Popen.__init__ = spy\n"
        "before = dict(os.environ)\n"
        "with warnings.catch_warnings(record=True) as w:\n"
        "    warnings.simplefilter('always')\n"
        "    import agora_ml\n"
        "print(json.dumps({'calls': len(calls), 'env_same': before == dict(os.environ),\n"
        "                  'warned': [str(x.message) for x in w], 'info': agora_ml.blas_info(),\n"
        "                  'check': agora_ml.check_blas_core()}))\n"
    )
    env = dict(os.environ, AGORA_BLAS_ASSUME_CORE="Prescott", HOME=str(tmp_path), XDG_CACHE_HOME=str(tmp_path))
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("AGORA_BLAS_SELECT", None)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["calls"] == 0 and got["env_same"], got
    assert got["check"] is None, got
    assert not list(tmp_path.iterdir()), "import wrote files"
    flags = open("/proc/cpuinfo").read()
    if " avx " not in flags.replace("\n", " ") + " ":
        # Below AVX nothing beats the generic kernels: no advice, no warning.
        assert got["info"]["recommended"] is None and not got["warned"], got
        return
    assert got["info"]["recommended"] and "Prescott" in got["info"]["reason"], got
    assert len(got["warned"]) == 1 and got["info"]["recommended"] in got["warned"][0], got


def test_a_device_as_edge_list_is_refused():
    """file:/dev/zero would be read forever: it is refused as not a regular file."""
    with pytest.raises(agora_ml.AgoraError, match="regular file"):
        agora_ml.topology("file:/dev/zero", 4)


def test_sizes_and_indices_are_not_silently_converted():
    """Integers past 64 bits, float row indices and aliased outputs are refused, not wrapped,
    truncated or overwritten."""
    with pytest.raises(ValueError, match="64 bits"):
        agora_ml.topology("ring", 2**64 + 8)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((20, 3)).astype(np.float32)
    y = (rng.random(20) < 0.5).astype(np.float32)
    f = agora_ml.Features(x, y)
    theta = np.zeros((2, 3), np.float32)
    with pytest.raises(TypeError, match="integer row indices"):
        agora_ml.glm_gradients(f, theta, [[0.0, 2.7], [1, 2]])
    buf = np.zeros(8, np.float32)
    out = buf[:6].reshape(2, 3)
    with pytest.raises(ValueError, match="losses overlaps"):
        agora_ml.glm_gradients(f, theta, [[0, 1], [2, 3]], out=out, losses=buf[4:6])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_non_finite_input_reaches_only_neighbours(dtype):
    # Ring on 8 agents: dense enough (3/8) that the automatic strategy picks GEMM, where 0 * NaN
    # would otherwise reach every agent.
    t = agora_ml.topology("ring", 8)
    x = np.ones((8, 4), dtype)
    x[0, 1] = np.nan
    x[4, 2] = np.inf
    y = agora_ml.mix(x, t)
    w = dense_w(t)
    with np.errstate(invalid="ignore"):
        ref = scipy_sparse.csr_matrix(w) @ x.astype(np.float64)
    assert np.array_equal(np.isnan(y), np.isnan(ref))
    assert np.array_equal(np.isinf(y), np.isinf(ref))
    assert set(np.nonzero(np.isnan(y).any(axis=1))[0]) == {7, 0, 1}
    step = agora_ml.mix_step(x, t, 0.5, np.zeros_like(x))
    assert np.array_equal(np.isnan(step), np.isnan(ref))


def test_a_non_finite_update_cannot_be_reported():
    # The truthful reports are ||applied_i||^2, computed inside: an infinite update would make
    # infinite payments; it is refused with the row named (given reports are checked the same way).
    t = agora_ml.topology("ring", 8)
    m = agora_ml.TruthfulDSGD(t, coefficient=0.01)
    x = np.ones((8, 3), np.float32)
    g = np.ones((8, 3), np.float32)
    g[3, 0] = np.inf
    with pytest.raises(agora_ml.AgoraError, match="applied row 3"):
        m.step(x, g)
    with pytest.raises(agora_ml.AgoraError, match=r"reports\[2\]"):
        agora_ml.dsgd_payments(np.array([1, 2, np.nan, 4, 5, 6, 7, 8.0]), t, 0.1)
