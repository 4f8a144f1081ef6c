"""Reproduces the CSDN tutorial "Pytorch框架中SGD&Adam优化器以及BP反向传播入门思想及实现".

A bias-free ``nn.Linear(4, 4)`` layer followed by a sigmoid, trained on one sample
``x = [1, 2, 3, 4]``, ``y = [3, 2, 4, 5]`` with the mean squared error.  The tutorial
takes one SGD step (learning rate 0.1) and one Adam step (learning rate 1e-3) with
``torch.optim`` and checks them against a hand-written NumPy derivation:
``calculate_grad`` (chain rule through the MSE, the sigmoid and the matmul),
``diy_sgd`` (``w - lr * grad``) and ``diy_adam`` (one bias-corrected Adam step from
zero moments).  Here ``funcgrad.grad`` and ``funcgrad.optim.sgd`` / ``adam`` take
the place of torch; ``main()`` returns both sides.
"""
import numpy as np

import funcgrad as fg
import funcgrad.numpy as fnp
import funcgrad.optim as fo

SEED = 0
LEARNING_RATE = 0.1
x = np.array([1, 2, 3, 4])   # 输入 (the tutorial's integer arrays)
y = np.array([3, 2, 4, 5])   # 预期输出


def initial_weight():
    """torch's default ``nn.Linear(4, 4)`` init, U(-1/sqrt(4), 1/sqrt(4)), from a fixed seed, float32."""
    bound = 1 / np.sqrt(len(x))
    return np.random.default_rng(SEED).uniform(-bound, bound, size=(len(x), len(x))).astype(np.float32)


# ----------------------------------------------------------------------------- funcgrad

def model_loss(weight, inputs, target):
    """``mse_loss(sigmoid(x @ W.T), y)``, the tutorial's ``TorchModel.forward(x, y)``."""
    y_pred = 1 / (1 + fnp.exp(-fnp.matmul(weight, inputs)))
    return fnp.mean((y_pred - target) ** 2)


def funcgrad_steps(weight):
    inputs, target = x.astype(np.float32), y.astype(np.float32)
    loss, grad = fg.value_and_grad(model_loss)(weight, inputs, target)
    out = {"loss": float(loss), "grad": np.asarray(grad)}
    for name, opt in (("sgd", fo.sgd(LEARNING_RATE)), ("adam", fo.adam(1e-3))):
        updates, _ = opt.update(grad, opt.init(weight), weight)
        out[name] = np.asarray(fo.apply_updates(weight, updates))
    return out


# ----------------------------------------------------------------------------- the tutorial's NumPy

class DiyModel:
    def __init__(self, weight):
        self.weight = weight

    def forward(self, x, y=None):
        y_pred = np.dot(self.weight, x)
        y_pred = self.diy_sigmoid(y_pred)
        if y is not None:
            return self.diy_mse_loss(y_pred, y)
        return y_pred

    def diy_sigmoid(self, x):
        return 1 / (1 + np.exp(-x))

    def diy_mse_loss(self, y_pred, y_true):
        return np.sum(np.square(y_pred - y_true)) / len(y_pred)

    def calculate_grad(self, y_pred, y_true, x):
        grad_loss_sigmoid_wx = 2 / len(x) * (y_pred - y_true)     # d MSE / d y_pred
        grad_sigmoid_wx_wx = y_pred * (1 - y_pred)                # sigmoid'
        grad_wx_w = x                                             # d (W x) / d W
        grad = grad_loss_sigmoid_wx * grad_sigmoid_wx_wx
        return np.dot(grad.reshape(len(x), 1), grad_wx_w.reshape(1, len(x)))


def diy_sgd(grad, weight, learning_rate):
    return weight - grad * learning_rate


def diy_adam(grad, weight):
    alpha, beta1, beta2, eps = 1e-3, 0.9, 0.999, 1e-8
    t, mt, vt = 0, 0, 0
    t = t + 1
    gt = grad
    mt = beta1 * mt + (1 - beta1) * gt
    vt = beta2 * vt + (1 - beta2) * gt ** 2
    mth = mt / (1 - beta1 ** t)
    vth = vt / (1 - beta2 ** t)
    return weight - alpha * mth / (np.sqrt(vth) + eps)


def tutorial_steps(weight):
    diy_model = DiyModel(weight)
    grad = diy_model.calculate_grad(diy_model.forward(x), y, x)
    return {"loss": float(diy_model.forward(x, y)), "grad": grad, "sgd": diy_sgd(grad, weight, LEARNING_RATE),
            "adam": diy_adam(grad, weight)}


def main(verbose=True):
    """Returns ``{"weight", "funcgrad": {...}, "tutorial": {...}}`` with each side's
    ``loss``, ``grad``, and weights after one ``sgd`` and one ``adam`` step."""
    weight = initial_weight()
    ours, theirs = funcgrad_steps(weight), tutorial_steps(weight)
    if verbose:
        print(weight, "初始化权重 (initial weight)")
        print("funcgrad loss:", ours["loss"], " diy loss:", theirs["loss"])
        print(ours["grad"], "funcgrad 计算梯度 (gradient)")
        print(ours["sgd"], "funcgrad SGD 更新后权重 (after one SGD step)")
        print(theirs["sgd"], "diy SGD 更新权重")
        print(ours["adam"], "funcgrad Adam 更新后权重 (after one Adam step)")
        print(theirs["adam"], "diy Adam 更新权重")
    return {"weight": weight, "funcgrad": ours, "tutorial": theirs}


if __name__ == "__main__":
    main()
