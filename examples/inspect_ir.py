"""Look at the programs funcgrad traces: a logistic-regression loss and its gradient,
printed as text and drawn as graphs.

``fg.make_ir(loss)(*args)`` records the loss as typed equations; ``fg.make_ir(fg.grad(loss))``
records the forward pass and the backward pass that ``grad`` runs.  Both are printed,
written as Graphviz DOT files with ``IR.to_dot()`` and, when Graphviz is installed,
rendered as PNG images:

    python examples/inspect_ir.py                 # files in the current directory
    python examples/inspect_ir.py --out build/ir  # or in another one

The files are ``loss_ir.dot`` / ``loss_ir.png`` and ``grad_ir.dot`` / ``grad_ir.png``.
Rendering needs the ``graphviz`` Python package (``pip install graphviz``) and the
Graphviz programs themselves (``apt install graphviz``, ``brew install graphviz``, ...);
without them the DOT files are still written, and ``dot -Tpng loss_ir.dot -o loss_ir.png``
renders one later.
"""
import argparse
import pathlib

import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp

N_SAMPLES, N_FEATURES = 16, 3


def loss(params, x, y):
    """Mean logistic loss ``log(1 + exp(-y z))`` of a linear classifier ``z = x w + b``,
    with labels ``y`` of -1 or +1."""
    w, b = params
    logits = x @ w + b
    return fnp.mean(fnp.log1p(fnp.exp(-y * logits)))


def example_args():
    """Parameters and a small batch of data: 16 samples of 3 features."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N_SAMPLES, N_FEATURES)).astype(np.float32)
    y = np.where(x @ np.array([1.0, -2.0, 0.5]) > 0, 1.0, -1.0).astype(np.float32)
    params = (np.zeros(N_FEATURES, np.float32), np.float32(0.0))
    return params, x, y


def programs():
    """The traced programs, by file stem: the loss and its gradient in ``params``."""
    args = example_args()
    return {"loss_ir": fg.make_ir(loss)(*args), "grad_ir": fg.make_ir(fg.grad(loss))(*args)}


def render(dot_files):
    """Render each DOT file as a PNG beside it; returns the PNGs written, or ``None`` and
    the reason when the ``graphviz`` package or the Graphviz programs are missing."""
    try:
        import graphviz
    except ImportError:
        return None, "the graphviz Python package is not installed"
    pngs = []
    for path in dot_files:
        try:
            png = graphviz.Source(path.read_text()).pipe(format="png")
        except graphviz.ExecutableNotFound:
            return None, "the Graphviz 'dot' program was not found on PATH"
        pngs.append(path.with_suffix(".png"))
        pngs[-1].write_bytes(png)
    return pngs, None


def main(argv=None):
    """Print both programs, write their DOT files into ``--out`` and render them;
    returns the paths written."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("."),
                        help="directory for the .dot and .png files (default: the current directory)")
    out = parser.parse_args(argv).out
    out.mkdir(parents=True, exist_ok=True)

    written = []
    for stem, ir in programs().items():
        title = "the loss" if stem == "loss_ir" else "its gradient, fg.grad(loss)"
        print(f"The program of {title}:\n{ir}\n")
        path = out / f"{stem}.dot"
        path.write_text(ir.to_dot(name=stem))
        written.append(path)
    print("Wrote", ", ".join(str(p) for p in written))

    pngs, reason = render(written)
    if pngs is None:
        print(f"Skipped rendering PNG images: {reason}. To render them, install the graphviz Python package "
              "(pip install graphviz) and the Graphviz programs (apt install graphviz, brew install graphviz, ...), "
              f"or render a file yourself: dot -Tpng {written[0]} -o {written[0].with_suffix('.png')}")
        pngs = []
    else:
        print("Rendered", ", ".join(str(p) for p in pngs))
    return written + pngs


if __name__ == "__main__":
    main()
