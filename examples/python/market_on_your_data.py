"""The iPFL model-sharing market on your own data, local training in numpy, the market in Agora.

Nine clients hold data from three different tasks (three clusters of a synthetic logistic problem,
or pass a CSV whose last column is the label and whose first column is the client id). Each round
every client takes a few local gradient steps (numpy) pulled towards its personalization centre;
then one call of agora_ml.market_step learns who buys whose model, prices every purchase, and
returns the next centres. Prints who buys from whom, the net payments (they sum to zero), and each
client's accuracy on its own held-out rows.

    python examples/python/market_on_your_data.py [clients.csv]
"""
import sys

import numpy as np

import agora_ml


def synthetic(rng, clients=9, features=10):
    tasks = rng.standard_normal((3, features))
    data = []
    for c in range(clients):
        rows = 120 + 40 * c  # clients of different sizes: the larger sell to the smaller
        x = rng.standard_normal((rows, features)).astype(np.float32)
        y = (x @ tasks[c % 3] + 0.5 * rng.standard_normal(rows) > 0).astype(np.float32)
        data.append((x, y))
    return data


def from_csv(path):
    table = np.loadtxt(path, delimiter=",", dtype=np.float64)
    ids = table[:, 0].astype(int)
    return [(table[ids == c, 1:-1].astype(np.float32), (table[ids == c, -1] > 0).astype(np.float32)) for c in np.unique(ids)]


def loss_grad(theta, x, y):
    p = 1 / (1 + np.exp(-(x @ theta)))
    return x.T @ (p - y) / len(y)


def main():
    rng = np.random.default_rng(2)
    data = from_csv(sys.argv[1]) if len(sys.argv) > 1 else synthetic(rng)
    m, p = len(data), data[0][0].shape[1]
    split = [int(0.8 * len(y)) for _, y in data]
    origin = np.zeros(p, np.float32)
    theta = np.tile(origin, (m, 1))
    centres, strength = None, 0.2
    sizes = np.array([float(s) for s in split])
    costs, eagerness = np.full(m, 0.01), np.full(m, 5e5)
    for rnd in range(10):
        for i, (x, y) in enumerate(data):
            for _ in range(20):
                g = loss_grad(theta[i], x[:split[i]], y[:split[i]])
                if centres is not None:
                    g = g + strength * (theta[i] - centres[i])
                theta[i] -= 0.5 * g
        result = agora_ml.market_step(theta, origin, sizes * 20, costs, eagerness)
        centres = result["centres"]
    for i, js in enumerate(result["imports"]):
        x, y = data[i]
        accuracy = np.mean(((x[split[i]:] @ theta[i]) > 0) == (y[split[i]:] > 0))
        print(f"client {i}: buys from {js}, net payment {result['net_payments'][i]:+.3e}, held-out accuracy {accuracy:.3f}")
    print(f"net payments sum to {result['net_payments'].sum():.1e}")


if __name__ == "__main__":
    main()
