"""Timing helpers shared by the benchmarks: interleaved repeats, median of best runs."""
import platform
import time

import numpy as np


def bench(fns, repeat=7, number=None, min_time=0.2):
    """Time each callable in ``fns`` (name -> fn), interleaving the runs so drift hits all alike.

    Returns name -> median seconds per call.
    """
    for f in fns.values():  # warm up
        f()
    if number is None:
        t0 = time.perf_counter()
        n = 0
        first = next(iter(fns.values()))
        while time.perf_counter() - t0 < min_time / 4:
            first()
            n += 1
        number = max(1, int(n * 4 * min_time / max(min_time, time.perf_counter() - t0) / len(fns)) or 1)
    samples = {k: [] for k in fns}
    for _ in range(repeat):
        for k, f in fns.items():
            t0 = time.perf_counter()
            for _ in range(number):
                f()
            samples[k].append((time.perf_counter() - t0) / number)
    return {k: float(np.median(v)) for k, v in samples.items()}


def machine():
    import os
    py = f"{platform.python_implementation()} {platform.python_version()}"
    return f"{platform.machine()}, {os.cpu_count()} cores, {py}"


def table(results, baseline, unit=1e-3, unit_name="ms"):
    base = results[baseline]
    lines = [f"| {'implementation':<28} | {unit_name:>9} | ratio vs {baseline} |",
             f"|{'-' * 30}|{'-' * 11}|{'-' * 22}|"]
    for k, v in results.items():
        lines.append(f"| {k:<28} | {v / unit:9.3f} | {v / base:20.2f} |")
    return "\n".join(lines)
