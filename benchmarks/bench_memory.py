"""Peak memory of one eager training step: funcgrad ``value_and_grad`` vs PyTorch eager.

A relu MLP in float32: ``depth`` layers ``h = relu(h @ w + b)`` of ``width`` units (no
relu after the last), mean squared error against a target, gradients in every weight
and bias.  Two shapes: 16 x 1024 at batch 256 (weights dominate) and 16 x 256 at batch
4096 (activations dominate).  Variants:

- ``funcgrad``: ``fg.value_and_grad(loss)(params, x, y)`` with ``fg.nn.relu``;
- ``torch``: the same computation, ``torch.autograd.grad(loss, params)``;
- ``funcgrad+ckpt``: funcgrad with ``fg.checkpoint`` around each layer;
- ``funcgrad+ckpt4``: funcgrad with ``fg.checkpoint`` around each block of 4 layers.

Method (the same for both libraries): each variant runs in a fresh subprocess with one
BLAS / OpenMP thread (``OPENBLAS_NUM_THREADS=1``, ``torch.set_num_threads(1)``) and
``MALLOC_MMAP_THRESHOLD_=65536``, so every array of more than 64 KiB is its own
``mmap`` and goes back to the OS when freed, for NumPy's and torch's CPU allocators
alike (both allocate through glibc ``malloc``).  After one warm-up step the process
resets its resident-set high-water mark (``echo 5 > /proc/self/clear_refs``), notes
its resident size, runs one step and reads ``VmHWM``: the peak is the growth of the
resident set during the step, i.e. everything the step allocates (activations, the
tape's residuals, cotangents, gradients, temporaries) and not the parameters or the
data, which both sides hold before it starts.  The median of 3 steps is reported.
tracemalloc (which sees NumPy's allocations but not torch's) is printed for the
funcgrad variants as a cross-check.

Run: python benchmarks/bench_memory.py            (all variants, a table with ratios)
     python benchmarks/bench_memory.py VARIANT DEPTH WIDTH BATCH   (one measurement, JSON)
"""
import json
import os
import re
import subprocess
import sys

SHAPES = [(16, 1024, 256), (16, 256, 4096)]
VARIANTS = ["funcgrad", "torch", "funcgrad+ckpt", "funcgrad+ckpt4"]
REPEAT = 3


def _status(key):
    with open("/proc/self/status") as f:
        return int(re.search(key + r":\s+(\d+)", f.read()).group(1)) * 1024


def _reset_peak():
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def _data(depth, width, batch):
    import numpy as np
    rng = np.random.default_rng(0)
    params = [((rng.standard_normal((width, width)) * np.sqrt(2.0 / width)).astype(np.float32),
               np.full(width, 0.01, np.float32)) for _ in range(depth)]
    x = rng.standard_normal((batch, width)).astype(np.float32)
    y = rng.standard_normal((batch, width)).astype(np.float32)
    return params, x, y


def _funcgrad_step(block):
    """``block`` layers per ``fg.checkpoint`` (0: none)."""
    import funcgrad as fg
    import funcgrad.numpy as fnp

    def layers(h, *wbs):
        for w, b in zip(wbs[::2], wbs[1::2]):
            h = fg.nn.relu(h @ w + b)
        return h

    run = fg.checkpoint(layers) if block else layers

    def loss(params, x, y):
        h = x
        hidden = params[:-1]
        step = block or len(hidden)
        for i in range(0, len(hidden), step):
            h = run(h, *[t for wb in hidden[i:i + step] for t in wb])
        w, b = params[-1]
        d = h @ w + b - y
        return fnp.mean(d * d)

    vg = fg.value_and_grad(loss)
    return lambda params, x, y: vg(params, x, y)


def _torch_step():
    import torch
    torch.set_num_threads(1)

    def step(params, x, y):
        h = x
        for w, b in params[:-1]:
            h = torch.relu(h @ w + b)
        w, b = params[-1]
        d = h @ w + b - y
        loss = torch.mean(d * d)
        flat = [t for wb in params for t in wb]
        return loss.detach(), torch.autograd.grad(loss, flat)
    return step


def measure(variant, depth, width, batch):
    import gc
    params, x, y = _data(depth, width, batch)
    if variant == "torch":
        import torch
        params = [(torch.from_numpy(w).requires_grad_(), torch.from_numpy(b).requires_grad_()) for w, b in params]
        x, y = torch.from_numpy(x), torch.from_numpy(y)
        step = _torch_step()
    else:
        step = _funcgrad_step({"funcgrad": 0, "funcgrad+ckpt": 1, "funcgrad+ckpt4": 4}[variant])
    out = step(params, x, y)  # warm-up (first-call caches, BLAS buffers)
    value = float(out[0])
    del out
    peaks = []
    for _ in range(REPEAT):
        gc.collect()
        _reset_peak()
        base = _status("VmRSS")
        out = step(params, x, y)
        peaks.append(_status("VmHWM") - base)
        del out
    res = {"variant": variant, "shape": [depth, width, batch], "peak": sorted(peaks)[REPEAT // 2],
           "peaks": peaks, "loss": value}
    if variant != "torch":
        import tracemalloc
        gc.collect()
        tracemalloc.start()
        out = step(params, x, y)
        res["tracemalloc"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        del out
    return res


def _run(variant, shape):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               MALLOC_MMAP_THRESHOLD_="65536", JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, __file__, variant, *map(str, shape)], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    sys.path.insert(0, os.path.dirname(__file__))
    from _timing import machine
    mb = 2 ** 20
    print(f"peak memory growth of one eager value_and_grad step, {machine()}\n")
    print("| shape (layers x width, batch) | variant | peak MB | tracemalloc MB | ratio vs torch "
          "| ckpt / unchecked |")
    print("|---|---|---|---|---|---|")
    for shape in SHAPES:
        res = {v: _run(v, shape) for v in VARIANTS}
        losses = [r["loss"] for r in res.values()]
        assert max(losses) - min(losses) <= 1e-4 * abs(losses[0]), losses
        act = shape[1] * shape[2] * 4 / mb
        for v, r in res.items():
            tm = f"{r['tracemalloc'] / mb:.1f}" if "tracemalloc" in r else "-"
            ck = f"{r['peak'] / res['funcgrad']['peak']:.2f}" if "ckpt" in v else ""
            print(f"| {shape[0]} x {shape[1]}, {shape[2]} | {v} | {r['peak'] / mb:.1f} | {tm} "
                  f"| {r['peak'] / res['torch']['peak']:.2f} | {ck} |")
        print(f"|  | (one activation: {act:.1f} MB; all weights: {shape[0] * shape[1] ** 2 * 4 / mb:.1f} MB) "
              "| | | | |")


if __name__ == "__main__":
    if len(sys.argv) == 5:
        print(json.dumps(measure(sys.argv[1], *map(int, sys.argv[2:]))))
    else:
        main()
