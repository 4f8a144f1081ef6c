"""``funcgrad.lax``: structured control flow with ``jax.lax``'s semantics.

``cond``, ``switch``, ``while_loop``, ``fori_loop``, ``scan`` and ``map`` stage their
functions into sub-programs held by the primitives ``cond``, ``while`` and ``scan``
(``funcgrad/transforms/control_flow.py``, where their rules live), so they work
eagerly and under every transform; ``select`` and ``stop_gradient`` are elementwise.
"""
from .api import stop_gradient
from .errors import api_boundary
from .primitives.elementwise import select as _select
from .transforms.control_flow import cond, fori_loop, map, scan, switch, while_loop  # noqa: A004


@api_boundary
def select(pred, on_true, on_false):
    """Elementwise ``on_true`` where ``pred`` else ``on_false`` (as ``jax.lax.select``)."""
    return _select(pred, on_true, on_false)


__all__ = ["cond", "switch", "while_loop", "fori_loop", "scan", "map", "select", "stop_gradient"]
