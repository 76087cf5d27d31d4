"""Truthful decentralized SGD driven from Python, the numerics in Agora.

Sixteen agents on an exponential graph fit one logistic regression to their own shards of a
synthetic data set (or of LIBSVM a9a, given as the first argument). Every iteration: Agora computes
all agents' mini-batch gradients at once (agora_ml.glm_gradients, parameters and gradients stay
numpy arrays), agent 3 inflates its gradient three-fold, and one call of the mechanism mixes with
the neighbours, applies the steps and returns the budget-balanced payments. Prints the loss of the
network average and the inflating agent's cumulative payment (it pays for what it inflates).

    python examples/python/dsgd_loop.py [path/to/a9a]
"""
import sys

import numpy as np

import agora_ml


def load(path, agents, rng):
    if path is None:
        w = rng.standard_normal(20)
        x = rng.standard_normal((agents * 200, 20)).astype(np.float32)
        y = np.where(x @ w + 0.3 * rng.standard_normal(len(x)) > 0, 1.0, -1.0).astype(np.float32)
        return x, y
    rows, labels, width = [], [], 0
    with open(path) as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            labels.append(1.0 if float(parts[0]) > 0 else -1.0)
            entries = [(int(k) - 1, float(v)) for k, v in (p.split(":") for p in parts[1:])]
            width = max([width] + [k + 1 for k, _ in entries])
            rows.append(entries)
    x = np.zeros((len(rows), width), np.float32)
    for i, entries in enumerate(rows):
        for k, v in entries:
            x[i, k] = v
    return x, np.asarray(labels, np.float32)


def main():
    agents, iterations, batch = 16, 300, 16
    rng = np.random.default_rng(1)
    x, y = load(sys.argv[1] if len(sys.argv) > 1 else None, agents, rng)
    shards = np.array_split(rng.permutation(len(x)), agents)
    features = agora_ml.Features(x, y)
    topology = agora_ml.topology("exponential", agents)
    mechanism = agora_ml.TruthfulDSGD(topology, step_size=0.5, coefficient=1e-3)
    theta = np.zeros((agents, x.shape[1]), np.float32)
    grads = np.empty_like(theta)
    next_theta = np.empty_like(theta)
    ledger = np.zeros(agents)
    for t in range(iterations):
        batches = [rng.choice(s, batch) for s in shards]
        agora_ml.glm_gradients(features, theta, batches, loss="logistic", l2=1e-3, out=grads)
        grads[3] *= 3.0  # agent 3 inflates its update (and reports the inflated norm)
        next_theta, payments = mechanism.step(theta, grads, out=next_theta)
        theta, next_theta = next_theta, theta
        ledger += payments
        if (t + 1) % 100 == 0:
            mean = theta.mean(axis=0)
            loss = np.mean(np.log1p(np.exp(-y * (x @ mean))))
            print(f"iteration {t + 1}: loss of the network average {loss:.4f}, "
                  f"agent 3 paid {ledger[3]:+.4f} in all, budget residual {abs(payments.sum()):.1e}")


if __name__ == "__main__":
    main()
