"""examples/data_parallel.py: one step function trained on one device, data-parallel and
model-parallel, to the same params; on this process's one device and, in a subprocess, on
8 simulated CPU devices."""
import importlib.util
import os
import pathlib
import re
import subprocess
import sys

import jax
import numpy as np
import pytest

import funcgrad as fg

EXAMPLE = pathlib.Path(__file__).resolve().parent.parent / "examples" / "data_parallel.py"


@pytest.fixture(scope="module")
def ex():
    spec = importlib.util.spec_from_file_location("data_parallel", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_on_one_device_data_parallel_is_the_single_device_run(ex):
    results = ex.main(steps=20, verbose=False)
    single, dp = results["single device"], results["data parallel"]
    assert dp["diff"] < 1e-6 and dp["accuracy"] == single["accuracy"]
    assert fg.tree.structure(dp["params"]) == fg.tree.structure(single["params"])
    assert all(isinstance(p, jax.Array) and p.dtype == np.float32 for p in fg.tree.leaves(dp["params"]))
    assert "model parallel" not in results  # one device: nothing to split the hidden units over


def test_the_step_learns(ex):
    results = ex.main(steps=150, verbose=False)
    assert results["single device"]["accuracy"] > 0.8  # measured 0.90 after 150 steps, 0.91 after 300


def test_on_eight_devices_all_three_runs_agree_and_shard_as_declared():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8", JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, str(EXAMPLE), "--steps", "30"], env=env, capture_output=True, text=True,
                          timeout=240)
    assert proc.returncode == 0, proc.stderr[-4000:]
    lines = proc.stdout.splitlines()
    assert lines[0] == "8 devices: cpu x 8"
    acc = [float(re.search(r"test accuracy (\S+)", line).group(1)) for line in lines[1:]]
    assert len(acc) == 3 and acc[0] == acc[1] == acc[2]
    diffs = [float(d) for d in re.findall(r"max \|params - single\| (\S+)", proc.stdout)]
    assert len(diffs) == 2 and max(diffs) < 1e-5
    assert lines[2].endswith("all-reduce in program: True")
    assert lines[3].endswith("w1 per device: (64, 64)")  # 128 hidden units over 2 "model" devices
