"""Helpers the primitives' batching rules share: moving a batch dimension to the
front, lining up ranks for broadcasting elementwise ops, and the per-element loop
that batches a primitive with no vectorised rule."""
import numpy as np


def move_to_front(x, bdim, size):
    """``x`` with its batch dimension first; an unbatched ``x`` is broadcast to ``size``."""
    from .shape import broadcast_to, transpose
    if bdim is None:
        return broadcast_to(x, (size,) + tuple(np.shape(x)))
    if bdim == 0:
        return x
    nd = len(np.shape(x))
    return transpose(x, (bdim,) + tuple(i for i in range(nd) if i != bdim))


def _index_batch(x, bdim, i):
    if bdim is None:
        return x
    from .indexing import gather
    nd = len(np.shape(x))
    spec = [("slice", None, None, None)] * nd
    spec[bdim] = ("int", i)
    return gather(x, (), spec)


def loop_rule(prim):
    """Batch ``prim`` by applying it to each batch element and stacking the results."""
    def rule(size, vals, dims, **params):
        from .shape import concatenate, reshape
        outs = [prim.bind(*[_index_batch(v, d, i) for v, d in zip(vals, dims, strict=True)], **params)
                for i in range(size)]

        def stack(items):
            return concatenate([reshape(o, (1,) + tuple(np.shape(o))) for o in items], 0)

        if prim.multiple_results:
            return [stack([o[k] for o in outs]) for k in range(len(outs[0]))], [0] * len(outs[0])
        return stack(outs), 0
    return rule


def elementwise_rule(prim):
    """Broadcasting elementwise ops: batch dims to the front, ranks aligned for NumPy broadcasting."""
    def rule(size, vals, dims, **params):
        from .shape import reshape
        rank = max(len(np.shape(v)) - (d is not None) for v, d in zip(vals, dims, strict=True))
        new = []
        for v, d in zip(vals, dims, strict=True):
            if d is None:
                new.append(v)
                continue
            v = move_to_front(v, d, size)
            shape = tuple(np.shape(v))
            pad = rank - (len(shape) - 1)
            new.append(reshape(v, shape[:1] + (1,) * pad + shape[1:]) if pad else v)
        return prim.bind(*new, **params), 0
    return rule
