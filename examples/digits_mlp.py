"""Handwritten digits with a small MLP: train, plot, save, reload, evaluate.

scikit-learn ships 1,797 handwritten digits as 8x8 grey images (bundled with it,
nothing is downloaded).  This example flattens each image into 64 numbers in [0, 1]
and trains a multilayer perceptron to tell the ten digits apart:

    64 pixels -> 128 ReLU units -> 10 logits, one per digit

The weights are drawn from ``funcgrad.random`` keys with ``funcgrad.nn``'s
initializers, the loss is ``funcgrad.nn.cross_entropy``, and one training step
(``fg.value_and_grad`` of the loss, then an ``fg.optim.adam`` update) is compiled once
with ``fg.jit`` and reused for every minibatch.  A fifth of the digits is kept apart
as a test set the network never trains on; the rest is shuffled into new minibatches
every epoch with ``funcgrad.random.permutation``.

While it trains, a progress bar shows each epoch's training loss and the training and
test accuracy.  Afterwards the script

1. saves a plot of the loss and accuracy curves (``digits_mlp.png``),
2. saves the trained weights with ``funcgrad.serialization`` (``digits_mlp.npz``),
3. loads them back from that file and prints their test accuracy, e.g.::

    training: 100%|██████████| 50/50 [00:00<00:00, 65.6epoch/s, loss=0.0179, train_acc=0.999, test_acc=0.978]
    Saved the training curves to digits_mlp.png
    Saved the trained params to digits_mlp.npz
    Test accuracy of the reloaded params: 0.978 (352 of 360 digits) after 50 epochs in 0.9 s

Run it with::

    python examples/digits_mlp.py                   # 50 epochs, files in the current directory
    python examples/digits_mlp.py --epochs 3        # a quick run
    python examples/digits_mlp.py --out results/    # write the plot and the weights elsewhere

It needs the example extras: ``pip install "funcgrad[examples]"`` (scikit-learn, tqdm,
matplotlib).
"""
import argparse
import pathlib
import time

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from tqdm import tqdm

import funcgrad as fg
import funcgrad.numpy as fnp
import funcgrad.optim as fo
from funcgrad import nn, random, serialization

matplotlib.use("Agg")        # draw into files only, never open a window

SIZES = (64, 128, 10)        # pixels in, hidden units, one logit per digit out
EPOCHS = 50
BATCH_SIZE = 32
LEARNING_RATE = 1e-3
TEST_FRACTION = 0.2


def load_data():
    """The digits as ``(train, test)``, each a pair ``(images (N, 64) float32 in [0, 1], labels (N,) int32)``.

    The split is the same on every run and keeps the ten digits in the same
    proportions in both sets."""
    digits = load_digits()
    images = (digits.data / 16.0).astype(np.float32)      # pixel values 0..16 -> 0..1
    labels = digits.target.astype(np.int32)
    x_train, x_test, y_train, y_test = train_test_split(images, labels, test_size=TEST_FRACTION,
                                                        stratify=labels, random_state=0)
    return (x_train, y_train), (x_test, y_test)


def init_params(key):
    """One ``{"w", "b"}`` dict per layer: He-normal weights for the ReLU layer, Glorot-normal
    for the output layer, zero biases."""
    k_hidden, k_out = random.split(key)
    n_in, n_hidden, n_out = SIZES
    return [{"w": nn.he_normal(k_hidden, (n_in, n_hidden)), "b": fnp.zeros(n_hidden)},
            {"w": nn.glorot_normal(k_out, (n_hidden, n_out)), "b": fnp.zeros(n_out)}]


def predict(params, images):
    """The MLP's logits ``(N, 10)`` for images ``(N, 64)``."""
    hidden, out = params
    h = nn.relu(images @ hidden["w"] + hidden["b"])
    return h @ out["w"] + out["b"]


def loss(params, images, labels):
    """Mean softmax cross-entropy over a batch."""
    return nn.cross_entropy(predict(params, images), labels)


optimizer = fo.adam(LEARNING_RATE)


@fg.jit
def train_step(params, opt_state, images, labels):
    """One Adam step on one minibatch; returns the new params and optimizer state, and the
    batch's loss before the step."""
    batch_loss, grads = fg.value_and_grad(loss)(params, images, labels)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return fo.apply_updates(params, updates), opt_state, batch_loss


@fg.jit
def accuracy(params, images, labels):
    """The fraction of images whose highest logit is their label."""
    return fnp.mean(fnp.argmax(predict(params, images), axis=1) == labels)


def train_epoch(params, opt_state, train_set, key):
    """One pass over the training set in minibatches shuffled by ``key``; returns the new
    params and optimizer state and the mean loss of the epoch's batches.

    Every batch has ``BATCH_SIZE`` images, so ``train_step`` is compiled only once; the
    few images left over by the last full batch wait for the next epoch's shuffle."""
    images, labels = train_set
    order = np.asarray(random.permutation(key, len(labels)))
    losses = []
    for start in range(0, len(labels) - BATCH_SIZE + 1, BATCH_SIZE):
        idx = order[start:start + BATCH_SIZE]
        params, opt_state, batch_loss = train_step(params, opt_state, images[idx], labels[idx])
        losses.append(batch_loss)
    return params, opt_state, float(np.mean(losses))


def train(params, train_set, test_set, key, epochs, verbose=True):
    """Train for ``epochs`` with Adam; returns the final params and, per epoch, the training loss and
    the training and test accuracy."""
    opt_state = optimizer.init(params)
    history = {"loss": [], "train_accuracy": [], "test_accuracy": []}
    bar = tqdm(range(1, epochs + 1), desc="training", unit="epoch", disable=not verbose)
    for epoch in bar:
        params, opt_state, epoch_loss = train_epoch(params, opt_state, train_set, random.fold_in(key, epoch))
        history["loss"].append(epoch_loss)
        history["train_accuracy"].append(float(accuracy(params, *train_set)))
        history["test_accuracy"].append(float(accuracy(params, *test_set)))
        bar.set_postfix({"loss": f"{epoch_loss:.4f}", "train_acc": f"{history['train_accuracy'][-1]:.3f}",
                         "test_acc": f"{history['test_accuracy'][-1]:.3f}"})
    return params, history


def plot_history(history, path):
    """Two panels side by side: the training loss, and the training and test accuracy, per epoch."""
    epochs = np.arange(1, len(history["loss"]) + 1)
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, history["loss"], marker="o")
    ax_loss.set(title="training loss (cross-entropy)", xlabel="epoch", ylabel="loss", yscale="log")
    ax_acc.plot(epochs, history["train_accuracy"], marker="o", label="train")
    ax_acc.plot(epochs, history["test_accuracy"], marker="o", label="test")
    ax_acc.set(title="accuracy", xlabel="epoch", ylabel="fraction correct")
    ax_acc.legend()
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=EPOCHS, help=f"epochs of training (default {EPOCHS})")
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("."),
                        help="directory for digits_mlp.png and digits_mlp.npz (default: the current directory)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the key for the weights and the shuffles")
    parser.add_argument("--quiet", action="store_true", help="no progress bar and no printing")
    return parser.parse_args(argv)


def main(argv=None):
    """Run the example with command-line arguments ``argv`` (``sys.argv[1:]`` when None).

    Returns a dict: the trained ``params``, the per-epoch ``history``, the test accuracy of
    the params in memory (``accuracy``) and of the params reloaded from the file
    (``reloaded_accuracy``), the paths of the ``plot`` and the ``checkpoint``, and the
    training time in ``seconds``."""
    args = parse_args(argv)
    verbose = not args.quiet
    args.out.mkdir(parents=True, exist_ok=True)
    plot_path, checkpoint_path = args.out / "digits_mlp.png", args.out / "digits_mlp.npz"

    train_set, test_set = load_data()
    k_init, k_shuffle = random.split(random.key(args.seed))
    start = time.perf_counter()
    params, history = train(init_params(k_init), train_set, test_set, k_shuffle, args.epochs, verbose)
    seconds = time.perf_counter() - start

    plot_history(history, plot_path)
    serialization.save(checkpoint_path, params)
    reloaded = serialization.load(checkpoint_path)
    in_memory_accuracy = float(accuracy(params, *test_set))
    reloaded_accuracy = float(accuracy(reloaded, *test_set))
    if verbose:
        n_test = len(test_set[1])
        print(f"Saved the training curves to {plot_path}")
        print(f"Saved the trained params to {checkpoint_path}")
        print(f"Test accuracy of the reloaded params: {reloaded_accuracy:.3f} "
              f"({round(reloaded_accuracy * n_test)} of {n_test} digits) after {args.epochs} epochs in {seconds:.1f} s")
    return {"params": params, "history": history, "accuracy": in_memory_accuracy,
            "reloaded_accuracy": reloaded_accuracy, "plot": plot_path, "checkpoint": checkpoint_path,
            "seconds": seconds}


if __name__ == "__main__":
    main()
