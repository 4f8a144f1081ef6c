"""funcgrad in one screen: a small MLP loss, its IR, its value and its gradient."""
import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp


def init_params(seed=0, sizes=(4, 8, 3)):
    rng = np.random.default_rng(seed)
    return [{"w": (rng.standard_normal((m, n)) / np.sqrt(m)).astype(np.float32), "b": np.zeros(n, np.float32)}
            for m, n in zip(sizes[:-1], sizes[1:])]


def loss(params, x, y):
    """Softmax cross-entropy of a ReLU MLP."""
    h = x
    for layer in params[:-1]:
        h = fnp.maximum(h @ layer["w"] + layer["b"], 0.0)
    logits = h @ params[-1]["w"] + params[-1]["b"]
    logits = logits - fnp.max(logits, axis=1, keepdims=True)
    logp = logits - fnp.log(fnp.sum(fnp.exp(logits), axis=1, keepdims=True))
    return -fnp.mean(fnp.sum(logp * y, axis=1))


def main():
    rng = np.random.default_rng(1)
    params = init_params()
    x = rng.standard_normal((5, 4)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 5)]

    print("The program funcgrad traced from `loss`:")
    print(fg.make_ir(loss)(params, x, y))
    value, grads = fg.value_and_grad(loss)(params, x, y)
    print(f"\nloss = {float(value):.6f}")
    print("d loss / d w of the last layer:\n", grads[-1]["w"])

    step = fg.jit(lambda p: fg.tree.map(lambda w, g: w - 0.5 * g, p, fg.grad(loss)(p, x, y)))
    for _ in range(50):
        params = step(params)
    print(f"\nloss after 50 jitted SGD steps = {float(loss(params, x, y)):.6f}")
    return float(value)


if __name__ == "__main__":
    main()
