"""One training step, run on one device and then on all of them.

An MLP classifies scikit-learn's 8x8 handwritten digits, trained with Adam.  The same
``step`` function is compiled three ways:

1. ``funcgrad.jit(step)``: one device;
2. ``funcgrad.parallel.data_parallel(step, mesh, batch_argnums=(2, 3))``: data
   parallelism.  Every device holds the whole params and optimizer state and gets
   ``batch / n_devices`` examples; XLA sums the devices' gradients with an all-reduce,
   so every device takes the same Adam step as the single device would;
3. ``funcgrad.jit(step, in_shardings=..., out_shardings=...)`` over a 2-D mesh
   ``("data", "model")``: the batch split over ``"data"`` and the hidden layer's
   weights split over ``"model"`` (each device holds half of the hidden units, and the
   matching halves of the Adam moments).

All three train from the same initial params on the same batches; the script prints
how far their params drifted apart (float rounding only) and their test accuracy:

    8 devices: cpu x 8
    single device     test accuracy 0.911
    data parallel     test accuracy 0.911   max |params - single| 3.5e-07   all-reduce in program: True
    model parallel    test accuracy 0.911   max |params - single| 3.3e-07   w1 per device: (64, 64)

Without accelerators, simulate devices on the CPU (set before Python starts):

    XLA_FLAGS=--xla_force_host_platform_device_count=8 python examples/data_parallel.py
    python examples/data_parallel.py --steps 50     # a quick run
"""
import argparse

import jax
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P
from sklearn.datasets import load_digits

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import nn, optim, random

STEPS = 300
BATCH_SIZE = 64           # split over the devices: a multiple of their number
HIDDEN = 128
LEARNING_RATE = 1e-2
N_TEST = 360

opt = optim.adam(LEARNING_RATE)


def load_data():
    """Images as flat float32 vectors in [0, 1], labels one-hot; the last ``N_TEST`` for testing."""
    digits = load_digits()
    x = (digits.images.reshape(len(digits.images), -1) / 16.0).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[digits.target]
    return (x[:-N_TEST], y[:-N_TEST]), (x[-N_TEST:], y[-N_TEST:])


def init_params(key, n_in=64, hidden=HIDDEN, n_out=10):
    k1, k2 = random.split(key)
    return {"w1": random.normal(k1, (n_in, hidden)) * np.float32(np.sqrt(2.0 / n_in)),
            "b1": fnp.zeros(hidden), "w2": random.normal(k2, (hidden, n_out)) * np.float32(np.sqrt(1.0 / hidden)),
            "b2": fnp.zeros(n_out)}


def predict(params, x):
    h = nn.relu(x @ params["w1"] + params["b1"])
    return h @ params["w2"] + params["b2"]


def loss(params, x, y):
    return -fnp.mean(fnp.sum(nn.log_softmax(predict(params, x)) * y, axis=1))


def step(params, opt_state, x, y):
    """One Adam step on a batch: the same code for one device and for many."""
    value, grads = fg.value_and_grad(loss)(params, x, y)
    updates, opt_state = opt.update(grads, opt_state, params)
    return optim.apply_updates(params, updates), opt_state, value


def batches(train, steps, batch_size=BATCH_SIZE, seed=0):
    """The same ``steps`` batches for every run (drawn with NumPy, host-side)."""
    x, y = train
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        idx = rng.choice(len(x), batch_size, replace=False)
        yield x[idx], y[idx]


def run(compiled_step, params, opt_state, train, steps):
    for x, y in batches(train, steps):
        params, opt_state, _ = compiled_step(params, opt_state, x, y)
    return params, opt_state


def accuracy(params, test):
    x, y = test
    return float(np.mean(np.argmax(np.asarray(fg.jit(predict)(params, x)), axis=1) == np.argmax(y, axis=1)))


def model_parallel_step(mesh, params, opt_state):
    """``step`` with the hidden units split over the mesh axis ``"model"``, the batch over ``"data"``."""
    rep = fg.parallel.replicated(mesh)
    param_shardings = {"w1": NamedSharding(mesh, P(None, "model")), "b1": NamedSharding(mesh, P("model")),
                       "w2": NamedSharding(mesh, P("model", None)), "b2": rep}
    state_shardings = fg.parallel.state_shardings(opt_state, params, param_shardings)
    batch = NamedSharding(mesh, P("data"))
    compiled = fg.jit(step, in_shardings=(param_shardings, state_shardings, batch, batch),
                      out_shardings=(param_shardings, state_shardings, rep))
    return compiled, param_shardings, state_shardings


def max_diff(a, b):
    return max(float(np.max(np.abs(np.asarray(u) - np.asarray(v)))) for u, v in zip(fg.tree.leaves(a),
                                                                                   fg.tree.leaves(b), strict=True))


def main(steps=STEPS, verbose=True):
    devices = jax.devices()
    n = len(devices)
    train, test = load_data()
    params = init_params(random.key(0))
    opt_state = opt.init(params)
    say = print if verbose else (lambda *a: None)
    say(f"{n} device{'s' if n > 1 else ''}: {devices[0].platform} x {n}")
    results = {}

    single, _ = run(fg.jit(step), params, opt_state, train, steps)
    results["single device"] = {"accuracy": accuracy(single, test), "params": single}
    say(f"{'single device':<17} test accuracy {results['single device']['accuracy']:.3f}")

    mesh = fg.parallel.make_mesh()                       # all devices on one axis, "data"
    dp = fg.parallel.data_parallel(step, mesh, batch_argnums=(2, 3))
    shared, shared_state = run(dp, params, opt_state, train, steps)
    program = dp.lower(params, opt_state, *next(batches(train, 1))).compile().as_text()
    results["data parallel"] = {"accuracy": accuracy(shared, test), "params": shared, "state": shared_state,
                                "diff": max_diff(single, shared), "all_reduce": "all-reduce" in program}
    r = results["data parallel"]
    say(f"{'data parallel':<17} test accuracy {r['accuracy']:.3f}   max |params - single| {r['diff']:.1e}   "
        f"all-reduce in program: {r['all_reduce']}")

    if n % 2 == 0:                                       # half the devices per hidden-unit shard
        mesh2 = fg.parallel.make_mesh((n // 2, 2), ("data", "model"))
        mp, param_shardings, state_shardings = model_parallel_step(mesh2, params, opt_state)
        split, split_state = run(mp, fg.device_put(params, param_shardings),
                                 fg.device_put(opt_state, state_shardings), train, steps)
        shard = tuple(split["w1"].addressable_shards[0].data.shape)
        results["model parallel"] = {"accuracy": accuracy(split, test), "params": split, "state": split_state,
                                     "diff": max_diff(single, split), "w1_shard": shard}
        r = results["model parallel"]
        say(f"{'model parallel':<17} test accuracy {r['accuracy']:.3f}   max |params - single| {r['diff']:.1e}   "
            f"w1 per device: {shard}")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=STEPS)
    main(parser.parse_args().steps)
