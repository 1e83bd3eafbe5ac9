"""graphc's graph IR: nodes, graphs, the primitive registry, errors and text forms.

This package is the bottom layer: it imports only NumPy and the standard library
(networkx lazily, for :meth:`Graph.to_networkx`).
"""

from . import ops
from . import array_ops  # noqa: E402 - registers the array primitives after ops
from . import conv_ops  # noqa: E402 - convolution and pooling (after array_ops)
from . import control_flow  # noqa: E402 - scan, while_loop, switch (sub-graphs)
from . import index_ops  # noqa: E402 - gather, scatter_add, det (after array_ops)
from .errors import (BackendUnavailableError, CacheWarning, DomainError, GraphcError,
                     InputError, LoweringError, NotDifferentiableError, ParseError,
                     ShapeError)
from .graph import Graph, bind_by_name, postorder, unflatten
from .node import Node
from .ops import const, variable
from .primitive import (PRIMITIVES, Primitive, apply, broadcast_shapes, get_primitive,
                        lookup_function, register, unregister)
from .text import to_expr, to_source, to_text

__all__ = [
    "BackendUnavailableError", "CacheWarning", "DomainError", "Graph", "GraphcError",
    "InputError", "LoweringError", "Node", "NotDifferentiableError", "PRIMITIVES", "ParseError",
    "array_ops", "bind_by_name",
    "Primitive", "ShapeError", "apply", "broadcast_shapes", "const", "get_primitive",
    "lookup_function", "ops", "postorder", "register", "to_expr", "to_source", "to_text",
    "unflatten", "unregister", "variable",
]
