"""funcgrad: composable function transforms (grad, jvp, vjp, vmap, jit) over a small,
readable IR.  ``import funcgrad as fg; import funcgrad.numpy as fnp``."""
from . import primitives as _primitives  # noqa: F401  (registers every primitive)
from . import errors, tree
from . import numpy  # noqa: F401
from . import optim, serialization  # noqa: F401
from .api import (debug_print, eval_ir, eval_shape, grad, hessian, jacfwd, jacrev, jvp, linearize, make_ir,
                  stop_gradient, value_and_grad, vjp, vmap)
from .config import config
from .core.avals import ShapedArray
from .core.ir import IR
from .transforms.custom import checkpoint, custom_jvp, custom_vjp, remat
from .transforms.jit import jit
from . import parallel  # noqa: E402  (after jit: its helpers build jitted steps)
from .parallel import device_put  # noqa: E402
from . import lax  # noqa: E402,F401  (after jit: its primitives lower through transforms)
from . import random  # noqa: F401
from . import nn, scipy  # noqa: F401,E402  (compositions over numpy, lax and random)

__version__ = "0.1.0"

__all__ = ["grad", "value_and_grad", "jvp", "vjp", "linearize", "jacfwd", "jacrev", "hessian", "make_ir",
           "eval_ir", "eval_shape", "stop_gradient", "custom_jvp", "custom_vjp", "checkpoint", "remat",
           "debug_print", "vmap", "jit", "config", "errors", "tree", "numpy", "optim", "serialization", "lax", "random",
           "nn", "scipy", "ShapedArray", "IR", "parallel", "device_put"]
