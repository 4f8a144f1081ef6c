"""The primitives of funcgrad, one module per family; importing registers them all."""
from . import elementwise, reductions, shape, indexing, linalg, sorting, misc  # noqa: F401
from . import special  # noqa: F401
from . import conv, windowed  # noqa: F401,E402  (convolution and pooling)
from . import softmax  # noqa: F401,E402
from ..core.primitive import all_primitives  # noqa: F401
