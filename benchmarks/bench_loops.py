"""Loops (funcgrad.lax): funcgrad against jax, and eager loops against Python loops, side by side in one run.

a. The Celsius fit: 330,000 epochs of plain gradient descent on a linear model, one
   ``fg.jit`` around ``lax.fori_loop`` with ``fg.grad`` inside, vs the same program in
   jax; steady-state time per call (after compile).                      target <= 1.1x jax
b. First call (trace + lower + compile + run) of a jitted ``scan`` training loop (an
   8-16-1 tanh MLP, SGD, carry = params, xs = one batch per step) and of its gradient
   w.r.t. the initial params (of the final loss, through the scan), at 10, 1,000 and
   10,000 steps, a fresh function each time so no cache hits.    target <= 1.2x jax at
   1,000 steps; and flat in the number of steps (10,000-step / 10-step first call near 1)
c. Eager (no jit) ``lax.scan`` of 1,000 small steps (``c = tanh(c * w + x)`` on a (4,)
   float64 carry) and its ``fg.grad``, vs a Python for-loop of the same funcgrad ops
   (and its grad); ``fori_loop`` and ``while_loop`` the same way (their loop index is
   traced when they are staged, so they and their Python loop index a funcgrad array).
                                                                     target <= 2x the loop

Each side gets one BLAS/XLA thread.  Run: python benchmarks/bench_loops.py
"""
import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from _timing import bench, machine  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

import funcgrad as fg  # noqa: E402
import funcgrad.numpy as fnp  # noqa: E402
from funcgrad import lax  # noqa: E402

# ----------------------------------------------------------------------------- a. Celsius fit

Y = np.array([0.5, 14.0, 15.0, 28.0, 11.0, 8.0, 3.0, -4.0, 6.0, 13.0, 21.0], np.float32)
X = np.array([35.7, 55.9, 58.2, 81.9, 56.3, 48.9, 33.9, 21.8, 48.4, 60.4, 68.4], np.float32)
PARAMS0 = np.array([1.0, 0.01], np.float32)
EPOCHS, LR = 330_000, 1e-4


def celsius_fit(grad, m, L):
    """The whole fit as one function of (params, x, y), written with library ``m``/``L``."""
    def loss(p, x, y):
        return m.mean((p[0] * x + p[1] - y) ** 2)

    def fit(params, x, y):
        return L.fori_loop(0, EPOCHS, lambda i, p: p - LR * grad(loss)(p, x, y), params)
    return fit


def case_a():
    fg_fit = fg.jit(celsius_fit(fg.grad, fnp, lax))
    jx_fit = jax.jit(celsius_fit(jax.grad, jnp, jax.lax))
    x, y, p = jax.device_put(X), jax.device_put(Y), jax.device_put(PARAMS0)
    a, b = np.asarray(fg_fit(p, x, y)), np.asarray(jx_fit(p, x, y))
    assert a.dtype == b.dtype == np.float32 and np.allclose(a, b, rtol=1e-4), (a, b)
    t = bench({"jax": lambda: jax.block_until_ready(jx_fit(p, x, y)),
               "funcgrad": lambda: jax.block_until_ready(fg_fit(p, x, y))}, repeat=7, number=1)
    return t, a


# ----------------------------------------------------------------------------- b. first call of a scan loop

SIZES, BATCH, SGD_LR = (8, 16, 1), 16, 0.05


def mlp_data(steps, seed=0):
    rng = np.random.default_rng(seed)
    params = [((rng.standard_normal((a, b)) / np.sqrt(a)).astype(np.float32), np.zeros(b, np.float32))
              for a, b in zip(SIZES[:-1], SIZES[1:])]
    xs = rng.standard_normal((steps, BATCH, SIZES[0])).astype(np.float32)
    ys = np.sin(xs.sum(-1, keepdims=True)).astype(np.float32)
    return params, xs, ys


def scan_training(value_and_grad, grad, m, L, tree_map):
    """``(train, final_loss_grad)``: a scan of SGD steps, and the gradient of the loss
    after the last step w.r.t. the initial params -- fresh functions on every call."""
    def loss(params, x, y):
        (w1, b1), (w2, b2) = params
        return m.mean((m.tanh(x @ w1 + b1) @ w2 + b2 - y) ** 2)

    def train(params, xs, ys):
        def step(p, batch):
            l, g = value_and_grad(loss)(p, *batch)
            return tree_map(lambda a, b: a - SGD_LR * b, p, g), l
        return L.scan(step, params, (xs, ys))

    def final_loss(params, xs, ys):
        return loss(train(params, xs, ys)[0], xs[-1], ys[-1])
    return train, grad(final_loss)


def first_call(lib, which, steps, data):
    if lib == "jax":
        train, g = scan_training(jax.value_and_grad, jax.grad, jnp, jax.lax, jax.tree_util.tree_map)
        f = jax.jit(train if which == "train" else g)
    else:
        train, g = scan_training(fg.value_and_grad, fg.grad, fnp, lax, fg.tree.map)
        f = fg.jit(train if which == "train" else g)
    t0 = time.perf_counter()
    jax.block_until_ready(f(*data))
    return time.perf_counter() - t0


def case_b(reps=5, steps_list=(10, 1000, 10000)):
    datas = {}
    for steps in steps_list:
        params, xs, ys = mlp_data(steps)
        datas[steps] = (jax.device_put(params), jax.device_put(xs), jax.device_put(ys))
    for which in ("train", "grad"):  # same values as jax (and everything imported and warm)
        f1 = fg.jit(scan_training(fg.value_and_grad, fg.grad, fnp, lax, fg.tree.map)[which == "grad"])
        j1 = jax.jit(scan_training(jax.value_and_grad, jax.grad, jnp, jax.lax, jax.tree_util.tree_map)[which == "grad"])
        data = datas[steps_list[0]]
        for u, v in zip(jax.tree_util.tree_leaves(f1(*data)), jax.tree_util.tree_leaves(j1(*data))):
            assert u.dtype == v.dtype and np.allclose(u, v, rtol=1e-4, atol=1e-6)
    times = {(w, s): {"jax": [], "funcgrad": []} for w in ("train", "grad") for s in steps_list}
    for rep in range(reps):  # all interleaved, each library first in turn, a fresh function each time
        for steps in steps_list:
            for which in ("train", "grad"):
                for lib in (("jax", "funcgrad") if rep % 2 == 0 else ("funcgrad", "jax")):
                    times[which, steps][lib].append(first_call(lib, which, steps, datas[steps]))
    return {k: {lib: float(np.median(v)) for lib, v in t.items()} for k, t in times.items()}


# ----------------------------------------------------------------------------- c. eager loops

N_STEPS = 1000
RNG = np.random.default_rng(0)
W = RNG.standard_normal(4) * 0.5
XS = RNG.standard_normal((N_STEPS, 4))
C0 = np.zeros(4)
FXS = fnp.asarray(XS)  # indexable by a traced loop index


def eager_scan(c0, w):
    c, _ = lax.scan(lambda c, x: (fnp.tanh(c * w + x), None), c0, XS)
    return fnp.sum(c)


def eager_fori(c0, w):
    return fnp.sum(lax.fori_loop(0, N_STEPS, lambda i, c: fnp.tanh(c * w + FXS[i]), c0))


def eager_while(c0, w):
    def body(ic):
        i, c = ic
        return i + 1, fnp.tanh(c * w + FXS[i])
    return fnp.sum(lax.while_loop(lambda ic: ic[0] < N_STEPS, body, (0, c0))[1])


def python_loop(c0, w):
    c = c0
    for i in range(N_STEPS):
        c = fnp.tanh(c * w + XS[i])
    return fnp.sum(c)


def python_loop_fnp_index(c0, w):
    """The loop of ``eager_fori``/``eager_while``, indexing a funcgrad array as they must."""
    c = c0
    for i in range(N_STEPS):
        c = fnp.tanh(c * w + FXS[i])
    return fnp.sum(c)


def case_c():
    grads = {name: fg.grad(f, argnums=(0, 1)) for name, f in
             (("scan", eager_scan), ("fori", eager_fori), ("loop", python_loop), ("loop_i", python_loop_fnp_index))}
    want = grads["loop"](C0, W)
    for name in ("scan", "fori", "loop_i"):
        got = grads[name](C0, W)
        assert all(np.allclose(a, b, rtol=1e-12) for a, b in zip(got, want)), name
    for f in (eager_scan, eager_fori, eager_while, python_loop_fnp_index):
        assert np.allclose(f(C0, W), python_loop(C0, W), rtol=1e-12)
    return bench({
        "python loop": lambda: python_loop(C0, W),
        "python loop_i": lambda: python_loop_fnp_index(C0, W),
        "lax.scan": lambda: eager_scan(C0, W),
        "lax.fori_loop": lambda: eager_fori(C0, W),
        "lax.while_loop": lambda: eager_while(C0, W),
        "grad python loop": lambda: grads["loop"](C0, W),
        "grad python loop_i": lambda: grads["loop_i"](C0, W),
        "grad lax.scan": lambda: grads["scan"](C0, W),
        "grad lax.fori_loop": lambda: grads["fori"](C0, W),
    }, repeat=9)


# ----------------------------------------------------------------------------- report

W_CASE = 72


def row(what, ours, theirs, target, unit=1e-3, name="ms"):
    ratio = ours / theirs
    return (f"| {what:<{W_CASE}} | {ours / unit:10.3f} {name} | {theirs / unit:10.3f} {name} | {ratio:6.2f} | "
            f"<= {target:<4} | {'PASS' if ratio <= target else 'MISS':<6} |")


def main():
    t_a, params = case_a()
    t_b = case_b()
    t_c = case_c()
    print(f"machine: {machine()}; numpy {np.__version__}, jax {jax.__version__} "
          f"({jax.devices()[0].platform}); one BLAS/XLA thread each")
    print(f"\n| {'case (peer)':<{W_CASE}} | {'funcgrad':>13} | {'peer':>13} | {'ratio':>6} | target  | result |")
    print(f"|{'-' * (W_CASE + 2)}|{'-' * 15}|{'-' * 15}|{'-' * 8}|{'-' * 9}|{'-' * 8}|")
    print(row("a. Celsius fit, 330k epochs, steady-state call (jax)", t_a["funcgrad"], t_a["jax"], 1.1))
    for which, what in (("train", "scan training loop"), ("grad", "grad of scan training loop")):
        for steps in (10, 1000, 10000):
            r = t_b[which, steps]
            print(row(f"b. first call, {what}, {steps} steps (jax)", r["funcgrad"], r["jax"], 1.2))
    print(row("c. eager lax.scan, 1000 steps (Python loop)", t_c["lax.scan"], t_c["python loop"], 2.0))
    print(row("c. eager grad of lax.scan (grad of the Python loop)", t_c["grad lax.scan"],
              t_c["grad python loop"], 2.0))
    for what in ("lax.fori_loop", "lax.while_loop"):
        print(row(f"c. eager {what} (Python loop, fnp indexing)", t_c[what], t_c["python loop_i"], 2.0))
    print(row("c. eager grad of lax.fori_loop (grad of the Python loop, fnp indexing)", t_c["grad lax.fori_loop"],
              t_c["grad python loop_i"], 2.0))
    flat = {w: t_b[w, 10000]["funcgrad"] / t_b[w, 10]["funcgrad"] for w in ("train", "grad")}
    flat_jax = {w: t_b[w, 10000]["jax"] / t_b[w, 10]["jax"] for w in ("train", "grad")}
    print("\nb. first call at 10,000 steps / at 10 steps: funcgrad "
          + ", ".join(f"{w} {v:.2f}" for w, v in flat.items()) + "; jax "
          + ", ".join(f"{w} {v:.2f}" for w, v in flat_jax.items()))
    print(f"a. final params {np.round(params, 4)}")
    return t_a, t_b, t_c


if __name__ == "__main__":
    main()
