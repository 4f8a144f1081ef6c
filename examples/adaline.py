"""An adaptive linear unit (ADALINE) learns y = 2x + 1 from random samples with an L1 loss.

A classic exercise: an ADALINE ``w * x + b``, from ``w = b = 0``, sees ten samples
``x ~ U(-10, 10)`` of ``y = 2x + 1`` one at a time and after each one takes a gradient step
on the absolute error ``|w * x + b - y|`` (learning rate 0.05 for ``w``, 0.1 for ``b``),
printing ``w`` and ``b``, then the line it found.  Ten updates bring ``w`` near 2, but ``b``
moves by exactly 0.1 per update (the slope of ``|.|`` is +1 or -1) and is still far from 1:
the exercise's own run, on other random numbers, ended at ``1.87x+0.40``, this one ends at
``1.74x+0.20``.  A second run, 1000 samples with the same learning rates halved every 100
updates, ends at ``2.00x+1.00``.

Done by hand, the exercise builds a computation graph: nodes for the variables ``x``,
``w``, ``b`` and the label, a multiply node, an add node and an absolute-value loss node;
runs it forward; walks it backwards, each node giving the gradient with respect to its
parents; and updates ``w`` and ``b`` itself.  In funcgrad the graph is the plain function
``loss`` below, and ``fg.make_ir(loss)`` shows the program funcgrad traces from it (for
ten samples: ``a`` is ``w``, ``b`` is ``b``, ``c`` the inputs, ``d`` the labels)::

    e:f32[10] = mul a c                   the multiply node, w * x
    f:f32[10] = add e b                   the add node, + b
    g:f32[10] = sub f d                   the loss node: the error ...
    h:f32[10] = abs g                     ... and its absolute value
    i:f32[] = reduce_sum[axes=(0,)] h
    j:f32[] = div i 10                    the mean over the samples

``fg.make_ir(fg.grad(loss))`` is the backward walk, written out as equations (the forward
pass stops at ``g``: the gradient needs the error, not its absolute value)::

    h:f32[10] = sign g                    d|g|/dg: the loss node's +1 or -1 (0 where g is 0)
    i:f32[10] = broadcast_in_dim[shape=(10,) dims=()] 0.10000000149011612
    j:f32[10] = mul i h                   d loss/dg: the mean's 1/10 times that sign
    k:f32[] = reduce_sum[axes=(0,)] j     d loss/db: the add node passes it on (times 1)
    l:f32[10] = mul j c                   the multiply node: d(w * x)/dw = x
    m:f32[] = reduce_sum[axes=(0,)] l     d loss/dw
  -> m k                                  the gradient, shaped like the params (w, b)

The hand-written update ``w -= lr * grad`` is ``fg.optim.sgd``, one per parameter here
(``masked`` gives ``w`` and ``b`` their own learning rates).

    python examples/adaline.py
"""
import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp
import funcgrad.optim as fo

LR_W, LR_B = 0.05, 0.1  # one learning rate per parameter
N_SAMPLES = 10          # the exercise: one pass over ten samples, one update per sample
N_LONG = 1000           # the longer run: 1000 samples, ...
HALF_LIFE = 100         # ... the learning rates halved every 100 updates
PRINT_EVERY = 100


def loss(params, x, y):
    """The mean absolute error of the linear unit ``w * x + b`` on the samples ``x``, ``y``."""
    w, b = params
    return fnp.mean(fnp.abs(w * x + b - y))


def samples(key, n):
    """``n`` samples ``x ~ U(-10, 10)`` of ``y = 2x + 1``."""
    x = fg.random.uniform(key, (n,), minval=-10.0, maxval=10.0)
    return x, 2 * x + 1


def sgd_per_parameter(lr_w, lr_b):
    """SGD on the params ``(w, b)`` with a learning rate (or schedule) for each."""
    return fo.chain(fo.masked(fo.sgd(lr_w), (True, False)), fo.masked(fo.sgd(lr_b), (False, True)))


def train(xs, ys, opt, print_every=1, verbose=True):
    """One update per sample from ``w = b = 0``; returns ``[(w, b) after each update]``."""
    params = (np.float32(0.0), np.float32(0.0))
    state = opt.init(params)
    history = []
    for i in range(len(xs)):
        grads = fg.grad(loss)(params, xs[i:i + 1], ys[i:i + 1])
        updates, state = opt.update(grads, state, params)
        params = fo.apply_updates(params, updates)
        w, b = float(params[0]), float(params[1])
        history.append((w, b))
        if verbose and (i + 1) % print_every == 0:
            step = f"step {i + 1:4d}  " if print_every > 1 else ""
            print(f"{step}w:{w:.2f}, b:{b:.2f}")
    if verbose:
        print(f"result: {w:.2f}x+{b:.2f}")
    return history


def main(verbose=True):
    """Both runs; returns ``{"x": the ten samples, "short": [(w, b)] * 10, "long": [(w, b)] * 1000}``."""
    key_short, key_long = fg.random.split(fg.random.key(0))
    xs, ys = samples(key_short, N_SAMPLES)
    if verbose:
        params0 = (np.float32(0.0), np.float32(0.0))
        print("loss, as funcgrad traced it:")
        print(fg.make_ir(loss)(params0, xs, ys))
        print("its gradient with respect to (w, b):")
        print(fg.make_ir(fg.grad(loss))(params0, xs, ys))
        print(f"\n{N_SAMPLES} samples, one update each (learning rates {LR_W} for w, {LR_B} for b):")
    short = train(xs, ys, sgd_per_parameter(LR_W, LR_B), verbose=verbose)
    if verbose:
        print(f"\n{N_LONG} samples, the same learning rates halved every {HALF_LIFE} updates:")
    halved = [fo.exponential_decay(lr, HALF_LIFE, 0.5) for lr in (LR_W, LR_B)]
    long = train(*samples(key_long, N_LONG), sgd_per_parameter(*halved), PRINT_EVERY, verbose)
    return {"x": np.asarray(xs), "short": np.array(short), "long": np.array(long)}


if __name__ == "__main__":
    main()
