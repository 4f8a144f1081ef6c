"""The README's main example: an MLP learns two spirals in a few seconds, and says so."""
import os
import re
import runpy

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Measured: 0.974 with the example's keys (0.95 to 0.98 over ten other seeds).
TEST_ACCURACY_FLOOR = 0.93


def test_quickstart_trains_the_spirals_and_prints_its_progress(capsys):
    mod = runpy.run_path(os.path.join(ROOT, "examples", "quickstart.py"))
    result = mod["main"]()
    out = capsys.readouterr().out

    # the IR of `predict`: three dense layers, two ReLUs
    assert out.count("dot_general") == 3 and out.count(" = relu ") == 2 and "-> o }" in out
    # progress lines, then the final accuracy, as printed
    steps = [int(s) for s in re.findall(r"^step +(\d+) +loss [\d.]+ +train accuracy [\d.]+$", out, re.M)]
    assert steps == [1, 100, 200, 300, 400, 500]
    printed = float(re.search(r"^test accuracy on 1000 new points: ([\d.]+)$", out, re.M).group(1))
    assert printed == round(result["test_accuracy"], 3)
    assert printed >= TEST_ACCURACY_FLOOR

    losses = np.array(result["losses"])
    assert len(losses) == 500 and np.all(np.isfinite(losses))
    assert losses[0] > 0.5 and losses[-1] < 0.05 * losses[0]  # measured: 0.794 -> 0.0056
    assert mod["train_step"].trace_count == 1                 # one compiled program for all 500 steps


def test_quickstart_loss_is_the_numpy_cross_entropy():
    mod = runpy.run_path(os.path.join(ROOT, "examples", "quickstart.py"))
    key = mod["fg"].random.key(1)
    params = mod["init_params"](key)
    x, labels = mod["make_spirals"](key, 8)
    h = np.asarray(x, np.float64)
    for layer in params[:-1]:
        h = np.maximum(h @ layer["w"] + layer["b"], 0)
    logits = h @ params[-1]["w"] + params[-1]["b"]
    logp = logits - logits.max(1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(1, keepdims=True))
    assert np.isclose(mod["loss"](params, x, labels), -logp[np.arange(16), labels].mean(), rtol=1e-5)
