"""Helpers of the batching rules (the ``batch`` field of a primitive's record), which
:func:`graphc.vmap` applies node by node (JAX's ``vmap``: the batching interpreter of
``jax/_src/interpreters/batching.py``, one rule per primitive).

A rule ``batch(node, args, axes) -> (out, out_axis)`` gets the node of one example,
its arguments rebuilt over the batch and, per argument, the axis holding the batch
(None for an argument every example shares); it returns the batched value and the
axis of that value holding the batch. Rules build their results from registered
primitives only, so a batched graph is compiled, drawn and differentiated like any
other.

This module uses only :mod:`graphc.ir.primitive` (the records are looked up by name
when a rule runs), so the op modules (:mod:`graphc.ir.array_ops`, ...) import it.
"""

from __future__ import annotations

from .errors import GraphcError
from .graph import postorder
from .node import Node
from .primitive import PRIMITIVES, apply


def params_of(node: Node) -> dict:
    """The static parameters of ``node`` as given to :func:`~graphc.ir.apply` (the
    derived ones, whose names start with ``_``, left out)."""
    return {k: v for k, v in node.params if not k.startswith("_")}


def rebind(node: Node, *args: Node, **override) -> Node:
    """``node``'s primitive applied to ``args`` with ``node``'s parameters, some of
    them replaced by ``override``."""
    return apply(node.prim, *args, **{**params_of(node), **override})


def moveaxis(x: Node, src: int, dst: int) -> Node:
    """``np.moveaxis(x, src, dst)`` as a ``transpose`` node (``x`` when nothing moves);
    ``src`` and ``dst`` are non-negative."""
    if src == dst:
        return x
    perm = [i for i in range(len(x.shape)) if i != src]
    perm.insert(dst, src)
    return apply(PRIMITIVES["transpose"], x, axes=tuple(perm))


def reshape(x: Node, shape: tuple) -> Node:
    """``x`` reshaped (``x`` itself when the shape is already ``shape``)."""
    shape = tuple(shape)
    return x if tuple(x.shape) == shape else apply(PRIMITIVES["reshape"], x, shape=shape)


def broadcast_to(x: Node, shape: tuple) -> Node:
    """``np.broadcast_to(x, shape)`` (``x`` itself when the shape is already ``shape``)."""
    shape = tuple(shape)
    return x if tuple(x.shape) == shape else apply(PRIMITIVES["broadcast_to"], x,
                                                   shape=shape)


def to_front(x: Node, axis: int | None, size: int | None = None) -> Node:
    """``x`` with its batch axis first. An argument without one (``axis`` None) is
    broadcast to a leading axis of ``size`` when ``size`` is given, else returned as it
    is."""
    if axis is None:
        if size is None:
            return x
        return broadcast_to(reshape(x, (1,) + tuple(x.shape)), (size,) + tuple(x.shape))
    return moveaxis(x, axis, 0)


def add_leading_one(x: Node, axis: int | None) -> Node:
    """``x`` with its batch axis first, or, without one, with a leading axis of length
    1 (which broadcasts against the batch)."""
    if axis is None:
        return reshape(x, (1,) + tuple(x.shape))
    return moveaxis(x, axis, 0)


def pad_after_batch(x: Node, rank: int) -> Node:
    """``x`` (batch axis first) with axes of length 1 inserted after the batch axis so
    that one example has ``rank`` axes (NumPy broadcasting aligns trailing axes)."""
    have = len(x.shape) - 1
    if have >= rank:
        return x
    return reshape(x, (x.shape[0],) + (1,) * (rank - have) + tuple(x.shape[1:]))


def batch_size(args, axes) -> int:
    """The batch size: the length of the batch axis of the first batched argument."""
    for a, ax in zip(args, axes):
        if ax is not None:
            return a.shape[ax]
    raise GraphcError("a batching rule was called with no batched argument")


def shift(axes, by: int = 1) -> tuple:
    """Axis numbers of one example moved past a leading batch axis."""
    return tuple(a + by for a in axes)


def elementwise_batch(node: Node, args, axes):
    """The batching rule of every elementwise primitive (the default of the ``batch``
    field): batch axes moved to the front, batched arguments of lower rank than the
    result padded with axes of length 1 after the batch axis, arguments without a
    batch axis left as they are; NumPy broadcasting does the rest. Returns ``(out,
    0)``."""
    rank = len(node.shape)
    moved = [a if ax is None else pad_after_batch(moveaxis(a, ax, 0), rank)
             for a, ax in zip(args, axes)]
    return rebind(node, *moved), 0


# ---------------------------------------------------------------------------------
# rewriting nodes of one example over a batch (graphc.vmap)

def _rule_error(node: Node) -> GraphcError:
    name = node.prim.name
    custom = name.startswith(("custom_jvp", "custom_vjp"))
    return GraphcError(f"vmap: the primitive {name!r} has no batching rule (its record's "
                       f"batch field is None), so it cannot be mapped over a batch"
                       + (": a custom_jvp/custom_vjp function of array arguments is not "
                          "batched yet; call it on one example inside a loop, or write "
                          "its body without the custom rule" if custom else ""))


def batch_outputs(outputs: list[Node], batched: dict,
                  labels: dict | None = None) -> list[tuple[Node, int | None]]:
    """``outputs`` (nodes of one example) rewritten over a batch: ``batched`` maps
    ``id(node)`` of an input of one example to ``(value, axis)``, a batched value and
    the axis holding its batch. Every node that depends on one is rebuilt by its
    primitive's ``batch`` rule; the others are kept. Iterative (postorder).

    With ``labels`` (``{node: name}`` of the example graph), returns the names moved to
    the batched nodes in that dict (drawings keep the user's variable names).

    Returns:
        ``(node, axis)`` per output: the batched value and the axis holding the batch,
        or the output itself and None when it depends on no batched input.

    Raises:
        GraphcError: a primitive without a batching rule (a custom function of array
            arguments) depends on a batched input; a rule that gives a wrong shape.
    """
    env: dict[int, tuple[Node, int | None]] = {}
    for node in postorder(outputs):
        key = id(node)
        if key in batched:
            env[key] = batched[key]
            continue
        if not node.args:
            env[key] = (node, None)
            continue
        new = [env[id(a)] for a in node.args]
        if all(ax is None for _, ax in new):
            env[key] = (node, None)  # its arguments are unchanged: nothing is batched
            continue
        rule = node.prim.batch
        if rule is None:
            raise _rule_error(node)
        n = batch_size([v for v, _ in new], [ax for _, ax in new])
        out, axis = rule(node, [v for v, _ in new], [ax for _, ax in new])
        want = None if axis is None else (
            tuple(node.shape[:axis]) + (n,) + tuple(node.shape[axis:]))
        if axis is None and tuple(out.shape) != tuple(node.shape) or \
                axis is not None and tuple(out.shape) != want:
            raise GraphcError(f"vmap: the batching rule of {node.prim.name} gave shape "
                              f"{tuple(out.shape)} with the batch on axis {axis} for an "
                              f"example of shape {tuple(node.shape)} and a batch of {n}")
        env[key] = (out, axis)
    if labels is not None:
        moved = {env[id(n)][0]: nm for n, nm in labels.items() if id(n) in env}
        labels.clear()
        labels.update(moved)
    return [env[id(o)] for o in outputs]


__all__ = [
    "add_leading_one", "batch_outputs", "batch_size", "broadcast_to", "elementwise_batch",
    "moveaxis", "pad_after_batch", "params_of", "rebind", "reshape", "shift", "to_front",
]
