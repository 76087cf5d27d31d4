"""agora_ml.cnn_gradients against JAX's autodiff of the same network on the same weights and images
(an independent implementation: lax convolutions in NCHW, reduce_window pooling, jax.grad)."""
import os

import numpy as np
import pytest

import agora_ml

# JAX is the reference; outside CI a missing jax skips the module, in CI (AGORA_TEST_REQUIRE_ALL=1)
# it is an error (make python-test installs it).
if os.environ.get("AGORA_TEST_REQUIRE_ALL") == "1":
    import jax
else:
    jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402


def jax_network(net: agora_ml.CNN):
    """The network as a JAX function of (flat parameters, NCHW images) -> scores."""
    def apply(flat, x):
        q = 0

        def take(*shape):
            nonlocal q
            n = int(np.prod(shape))
            out = flat[q:q + n].reshape(shape)
            q += n
            return out

        h, c = x, net.channels
        for (o, k, pad) in net.convolutions:
            w, b = take(o, c, k, k), take(o)
            h = jax.lax.conv_general_dilated(h, w, (1, 1), [(pad, pad), (pad, pad)],
                                             dimension_numbers=("NCHW", "OIHW", "NCHW"), precision="highest")
            h = jax.nn.relu(h + b[None, :, None, None])
            h = jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
            c = o
        h = h.reshape(x.shape[0], -1)
        for width in net.hidden + [net.classes]:
            w, b = take(width, h.shape[1]), take(width)
            h = jnp.dot(h, w.T, precision="highest") + b
            if width != net.classes or q != flat.shape[0]:
                h = jax.nn.relu(h)
        return h
    return apply


def reference(net, images, labels, theta, batches, l2):
    apply = jax_network(net)

    def loss(flat, xb, yb):
        z = apply(flat, xb)
        ce = jnp.mean(jax.nn.logsumexp(z, axis=1) - jnp.take_along_axis(z, yb[:, None], 1)[:, 0])
        return ce + l2 / 2 * jnp.sum(flat * flat)

    x = images.reshape(-1, net.channels, net.height, net.width)
    out = [jax.value_and_grad(loss)(jnp.asarray(theta[a]), jnp.asarray(x[b]), jnp.asarray(labels[b]))
           for a, b in enumerate(batches)]
    return np.stack([np.asarray(g) for _, g in out]), np.array([float(v) for v, _ in out])


def initial(net, agents, rng):
    """PyTorch's default start: uniform in +-1/sqrt(fan-in) per layer."""
    theta = np.empty((agents, net.parameter_count), np.float32)
    q, c = 0, net.channels
    layers = []
    for (o, k, _) in net.convolutions:
        layers.append((o * c * k * k + o, c * k * k))
        c = o
    # Dense fan-ins follow from the sizes (the first from the parameter count).
    dense = net.hidden + [net.classes]
    rest = net.parameter_count - sum(n for n, _ in layers)
    tail = sum(w * v + w for v, w in zip(dense[:-1], dense[1:]))
    first_in = (rest - tail - dense[0]) // dense[0]
    for v, w in zip([first_in] + dense[:-1], dense):
        layers.append((w * v + w, v))
    for n, fan in layers:
        theta[:, q:q + n] = rng.uniform(-1, 1, (agents, n)) / np.sqrt(fan)
        q += n
    assert q == net.parameter_count
    return theta


@pytest.mark.parametrize("net", [
    agora_ml.CNN.simplecnn(channels=1, size=28),
    agora_ml.CNN.simplecnn(channels=3, size=32),
    agora_ml.CNN(2, 11, 10, [(3, 3, 1), (4, 2, 0)], [7], 3),
], ids=["simplecnn-mnist", "simplecnn", "padded"])
def test_gradients_match_jax(net):
    rng = np.random.default_rng(5)
    rows, agents = 40, 3
    images = rng.uniform(0, 1, (rows, net.channels, net.height, net.width)).astype(np.float32)
    labels = rng.integers(0, net.classes, rows)
    theta = initial(net, agents, rng)
    batches = [np.arange(0, 16), rng.choice(rows, 7, replace=False), np.arange(rows)]
    g, loss = agora_ml.cnn_gradients(net, images, labels, theta, batches, l2=1e-3)
    gj, lj = reference(net, images, labels, theta, batches, 1e-3)
    assert g.shape == (agents, net.parameter_count) and g.dtype == np.float32
    # 1e-4 of the largest gradient entry, per agent (float32 sums in a different order).
    for a in range(agents):
        scale = np.abs(gj[a]).max()
        assert np.abs(g[a] - gj[a]).max() <= 1e-4 * scale, (a, np.abs(g[a] - gj[a]).max(), scale)
    assert np.allclose(loss, lj, rtol=1e-5)


def test_parameter_counts_and_bad_input():
    assert agora_ml.CNN.simplecnn(channels=3, size=32).parameter_count == 62006
    assert agora_ml.CNN.simplecnn(channels=1, size=28).parameter_count == 44426
    net = agora_ml.CNN.simplecnn(channels=1, size=28)
    theta = np.zeros((2, net.parameter_count), np.float32)
    x = np.zeros((4, 1, 28, 28), np.float32)
    with pytest.raises(ValueError, match="images must be rows x 1 x 28 x 28"):
        agora_ml.cnn_gradients(net, np.zeros((4, 100), np.float32), [0, 1, 2, 3], theta, [[0], [1]])
    with pytest.raises(agora_ml.AgoraError, match="label 12 outside"):
        agora_ml.cnn_gradients(net, x, [0, 1, 12, 3], theta, [[0, 2], [1]])
    with pytest.raises(agora_ml.AgoraError, match="names row 9"):
        agora_ml.cnn_gradients(net, x, [0, 1, 2, 3], theta, [[9], [1]])
    with pytest.raises(agora_ml.AgoraError, match="convolution 2"):
        agora_ml.CNN(1, 8, 8, [(4, 5, 0), (4, 5, 0)], [], 10)
    with pytest.raises(agora_ml.AgoraError, match="too large"):
        agora_ml.CNN(1 << 20, 1 << 20, 1 << 20, [(1 << 20, 3, 0)], [], 10)
