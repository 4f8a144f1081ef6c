"""Reproduces the OneFlow tutorial "反向传播与 optimizer": fit Y = 2*X1 + 3*X2 with SGD.

The tutorial trains ``w`` (initially [[2], [1]]) on four float32 points with the summed
squared error, learning rate 0.01, 500 iterations, and prints the loss every 50
iterations, computed *before* that iteration's update:

    50/500 loss:0.0034512376878410578   ...   w:[[2.000001 ] [2.9999993]]

Here the hand-written ``gradient`` and ``w -= LR * grad`` become ``funcgrad.value_and_grad``
and ``funcgrad.optim.sgd``.  ``main()`` returns the printed losses and the final ``w``,
next to the tutorial's own NumPy loop for comparison.
"""
import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp
import funcgrad.optim as fo

ITER_COUNT = 500
LR = 0.01

X = np.array([[1, 2], [2, 3], [4, 6], [3, 1]], dtype=np.float32)
Y = np.array([[8], [13], [26], [9]], dtype=np.float32)
W0 = np.array([[2], [1]], dtype=np.float32)


def loss(w, x, y):
    """Summed squared error of the linear model ``x @ w`` (the tutorial's ``loss``)."""
    return fnp.sum((fnp.matmul(x, w) - y) ** 2)


def train_funcgrad(verbose=False):
    opt = fo.sgd(LR)
    w, state = W0, opt.init(W0)
    value_and_grad = fg.value_and_grad(loss)
    printed = {}
    for i in range(ITER_COUNT):
        l, g = value_and_grad(w, X, Y)                 # loss before this iteration's update
        if (i + 1) % 50 == 0:
            printed[i + 1] = float(l)
            if verbose:
                print(f"{i + 1}/{ITER_COUNT} loss:{float(l)}")
        updates, state = opt.update(g, state, w)
        w = fo.apply_updates(w, updates)
    if verbose:
        print(f"w:{np.asarray(w)}")
    return printed, np.asarray(w)


def train_tutorial_numpy():
    """The tutorial's own loop, verbatim apart from names: hand-written gradient, ``w -= LR * grad``."""
    w = W0.copy()
    printed = {}
    for i in range(ITER_COUNT):
        y_pred = np.matmul(X, w)
        l = ((y_pred - Y) ** 2).sum()  # noqa: E741  (the tutorial's name)
        if (i + 1) % 50 == 0:
            printed[i + 1] = float(l)
        w -= LR * np.matmul(X.T, 2 * (y_pred - Y))
    return printed, w


def main(verbose=True):
    """Train; return ``{"losses", "w", "tutorial_losses", "tutorial_w"}``."""
    losses, w = train_funcgrad(verbose)
    tutorial_losses, tutorial_w = train_tutorial_numpy()
    return {"losses": losses, "w": w, "tutorial_losses": tutorial_losses, "tutorial_w": tutorial_w}


if __name__ == "__main__":
    main()
