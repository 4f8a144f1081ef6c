"""``stop_gradient`` (identity with no derivative) and ``debug_print`` (an effect)."""
import numpy as np
import jax
import jax.lax as lax

from ..core.primitive import Primitive, defvjp, defvjp_indexed

stop_gradient_p = Primitive("stop_gradient", nondiff=True)
stop_gradient_p.impl = lambda x: x
stop_gradient_p.shape = lambda x: x
stop_gradient_p.lower = lambda ctx, x: lax.stop_gradient(x)
stop_gradient_p.jvp = lambda primals, tangents: (stop_gradient_p.bind(primals[0]), None)
defvjp(stop_gradient_p, lambda g, ans, x: None)


def stop_gradient(x):
    return stop_gradient_p.bind(x)


debug_print_p = Primitive("debug_print", multiple_results=True, effectful=True, nondiff=True)


def _split(args, names):
    n = len(args) - len(names)
    return list(args[:n]), dict(zip(names, args[n:]))


def _print_impl(*args, fmt, names=()):
    pos, kw = _split([np.asarray(a) for a in args], names)
    print(fmt.format(*pos, **kw))
    return []


debug_print_p.impl = _print_impl
debug_print_p.shape = lambda *avals, fmt, names=(): []


def _print_lower(ctx, *args, fmt, names=()):
    pos, kw = _split(args, names)
    jax.debug.print(fmt, *pos, **kw)
    return []


debug_print_p.lower = _print_lower
debug_print_p.jvp = lambda primals, tangents, **params: (debug_print_p.bind(*primals, **params), [])
defvjp_indexed(debug_print_p, lambda i, g, ans, *args, **params: None)


# ----------------------------------------------------------------------------- vmap

def _print_batch(size, vals, dims, **params):
    """Under vmap, print the whole batch at once (values with their batch dimension)."""
    return debug_print_p.bind(*vals, **params), []


stop_gradient_p.batch = lambda size, vals, dims: (stop_gradient_p.bind(vals[0]), dims[0])
debug_print_p.batch = _print_batch
