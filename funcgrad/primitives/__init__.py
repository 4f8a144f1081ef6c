"""The primitives of funcgrad, one module per family; importing registers them all."""
from . import elementwise, reductions, shape, indexing, linalg, sorting, misc  # noqa: F401
from ..core.primitive import all_primitives  # noqa: F401
