"""The README's main example runs and prints a program, a loss and a gradient."""
import os
import runpy
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_quickstart_runs_and_matches_numpy(capsys):
    sys.path.insert(0, os.path.join(ROOT, "examples"))
    try:
        mod = runpy.run_path(os.path.join(ROOT, "examples", "quickstart.py"))
    finally:
        sys.path.pop(0)
    value = mod["main"]()
    out = capsys.readouterr().out
    assert "dot_general" in out and "-> " in out
    # the same loss computed with plain NumPy
    params = mod["init_params"]()
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 5)]
    h = np.maximum(x @ params[0]["w"] + params[0]["b"], 0)
    logits = h @ params[1]["w"] + params[1]["b"]
    logits = logits - logits.max(1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    assert np.isclose(value, -np.mean(np.sum(logp * y, 1)), rtol=1e-5)
