"""Data-parallel step time on 1, 2, 4 and 8 devices (issue [multi-device]).

The MLP step of bench_jit.py (784-512-512-10 ReLU MLP, batch 128, float32, SGD), jitted
with ``funcgrad.parallel.data_parallel`` over a mesh of the first n devices: the batch
split n ways, the params replicated, XLA's all-reduce summing the gradients.  Also the
same step under plain ``funcgrad.jit`` (no shardings) and ``jax.jit`` with the same
shardings, for reference.

Without accelerators the script re-runs itself with 8 simulated CPU devices
(``--xla_force_host_platform_device_count=8``).  Simulated devices share the machine's
cores, so this measures the overhead of the sharded program, not a speed-up.
Run: python benchmarks/bench_sharding.py
"""
import os
import subprocess
import sys

FLAG = "--xla_force_host_platform_device_count=8"

if __name__ == "__main__" and FLAG not in os.environ.get("XLA_FLAGS", "") and "--child" not in sys.argv:
    import jax

    if jax.default_backend() == "cpu":
        env = dict(os.environ, XLA_FLAGS=(os.environ.get("XLA_FLAGS", "") + " " + FLAG).strip())
        sys.exit(subprocess.call([sys.executable, os.path.abspath(__file__), "--child"], env=env))

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from _timing import bench, machine  # noqa: E402
from bench_eager import make_loss, mlp_setup  # noqa: E402
from bench_jit import LR, fg_step_fn, jax_step_fn  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from jax.sharding import PartitionSpec as P  # noqa: E402

import funcgrad as fg  # noqa: E402


def main():
    devices = jax.devices()
    params, x, y = mlp_setup()
    print(f"{machine()}, numpy {np.__version__}, jax {jax.__version__}, "
          f"{len(devices)} {devices[0].platform} devices; MLP 784-512-512-10, batch 128, float32, SGD lr={LR}")
    plain = fg.jit(fg_step_fn())
    ref = plain(params, x, y)
    fns, checks = {}, {}
    jparams, jx, jy = jax.device_put((params, x, y), devices[0])
    fns["funcgrad.jit, no shardings"] = lambda: jax.block_until_ready(plain(jparams, jx, jy))
    for n in (1, 2, 4, 8):
        if n > len(devices):
            break
        mesh = fg.parallel.make_mesh(devices=devices[:n])
        rep, split = fg.parallel.replicated(mesh), fg.parallel.batch_sharding(mesh)
        step = fg.parallel.data_parallel(fg_step_fn(), mesh, batch_argnums=(1, 2))
        p, xs, ys = fg.device_put(params, rep), fg.device_put(x, split), fg.device_put(y, split)
        out = step(p, xs, ys)
        checks[n] = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
                        for a, b in zip(jax.tree_util.tree_leaves(out), jax.tree_util.tree_leaves(ref), strict=True))
        fns[f"funcgrad data_parallel, {n} dev"] = (lambda s, a, b, c: lambda: jax.block_until_ready(s(a, b, c)))(
            step, p, xs, ys)
        jstep = jax.jit(jax_step_fn(), in_shardings=(rep, split, split), out_shardings=rep)
        fns[f"jax.jit same shardings, {n} dev"] = (lambda s, a, b, c: lambda: jax.block_until_ready(s(a, b, c)))(
            jstep, p, xs, ys)
        if n in (1, len(devices)):  # where the time goes, in jax alone: each device's gradient, no communication
            local = jax.jit(jax.shard_map(lambda q, a, b: jax.tree_util.tree_map(
                lambda g: g[None], jax.grad(make_loss(jnp))(q, a, b)), mesh=mesh, in_specs=(P(), P("data"), P("data")),
                out_specs=P("data")))
            fns[f"jax: local gradients only, {n} dev"] = (
                lambda s, a, b, c: lambda: jax.block_until_ready(s(a, b, c)))(local, p, xs, ys)
    res = bench(fns, repeat=9)
    base = res["funcgrad data_parallel, 1 dev"]
    print(f"| {'step':<38} | {'ms':>7} | vs 1 device |")
    print(f"|{'-' * 40}|{'-' * 9}|{'-' * 13}|")
    for k, v in res.items():
        print(f"| {k:<38} | {v * 1e3:7.3f} | {v / base:11.2f} |")
    print("max |params - single-device params| after one step:", {n: f"{d:.1e}" for n, d in checks.items()})


if __name__ == "__main__":
    main()
