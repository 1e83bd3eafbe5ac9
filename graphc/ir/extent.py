"""Sizes known only at run time, for code compiled once for every batch size.

An array graph with a symbolic dimension (``B``) is planned and lowered with an
:class:`Extent` in place of each size: an integer polynomial in the symbols (with
floor divisions and remainders by positive integers as opaque terms), carrying the
value it has in the binding being compiled. Arithmetic on extents gives extents;
a backend emits them as run-time integer code.

Whenever planning or code generation *observes* an extent (compares it, takes its
``bool``, ``int`` or ``float``, loops ``range`` over it), the value of that binding
decides, and the observation is recorded as a :class:`Guard`: the code is valid for
exactly the bindings that satisfy every guard recorded while it was generated, and a
kernel compiled for ``B = 100`` is reused for ``B = 101`` only when its guards hold
there (otherwise it is compiled again, as before). Comparisons that hold for every
binding (``B + 1 > B``) record nothing. This is the guard discipline of trace-based
specialisation (PyTorch's ``SymInt`` and its shape guards in TorchDynamo; JAX's
``jax.export`` symbolic dimensions take the other route and reject such comparisons).

Extents are not ``int``\\ s on purpose: CPython reads an ``int`` subclass's value
directly in ``range``, ``%d`` formatting and C code, which would use the planning value
without a guard. Their ``str`` is symbolic (``4*B+1``), so text that leaks into
generated code fails to compile instead of hard-coding a size.
"""

from __future__ import annotations

import contextlib
import itertools
import operator
import threading
from typing import Iterator, Mapping

__all__ = ["Extent", "Guard", "GuardError", "estimate", "evaluate", "recording",
           "sizes_of", "slice_indices"]


class GuardError(RuntimeError):
    """An extent was observed outside :func:`recording` (a backend bug: its value would
    be used without a guard)."""


_state = threading.local()
_epochs = itertools.count(1)


def _log() -> list | None:
    return getattr(_state, "guards", None)


@contextlib.contextmanager
def recording() -> Iterator[list]:
    """Record the guards that observing extents creates (per thread); yields the list."""
    prev = _log()
    _state.guards = log = []
    try:
        yield log
    finally:
        _state.guards = prev


class Guard:
    """``expr OP 0`` is ``result`` (OP one of ``==``, ``<``, ``<=``), recorded when an
    extent was observed."""

    __slots__ = ("expr", "op", "result")

    def __init__(self, expr: "Extent", op: str, result: bool):
        self.expr, self.op, self.result = expr, op, result

    def holds(self, env: Mapping[str, int]) -> bool:
        return _OPS[self.op](self.expr.evaluate(env), 0) == self.result

    def __repr__(self) -> str:
        text = f"{self.expr} {self.op} 0"
        return text if self.result else f"not ({text})"


_OPS = {"==": operator.eq, "<": operator.lt, "<=": operator.le}


def _atom_key(a) -> str:
    return a if isinstance(a, str) else repr(a)


def _mono_key(m: tuple) -> tuple:
    return tuple(_atom_key(a) for a in m)


class _Div:
    """The opaque term ``num // den`` or ``num % den`` (``den`` a positive int)."""

    __slots__ = ("op", "num", "den", "_key")

    def __init__(self, op: str, num: "Extent", den: int):
        self.op, self.num, self.den = op, num, den
        self._key = f"({num.key_text()}){op}{den}"

    def __repr__(self) -> str:
        return self._key

    def __eq__(self, other) -> bool:
        return isinstance(other, _Div) and other._key == self._key

    def __hash__(self) -> int:
        return hash(self._key)

    def evaluate(self, env) -> int:
        v = self.num.evaluate(env)
        return v // self.den if self.op == "//" else v % self.den


def _poly_add(p: dict, q: dict, sign: int = 1) -> dict:
    out = dict(p)
    for m, c in q.items():
        v = out.get(m, 0) + sign * c
        if v:
            out[m] = v
        else:
            out.pop(m, None)
    return out


def _poly_mul(p: dict, q: dict) -> dict:
    out: dict = {}
    for m1, c1 in p.items():
        for m2, c2 in q.items():
            m = tuple(sorted(m1 + m2, key=_atom_key))
            v = out.get(m, 0) + c1 * c2
            if v:
                out[m] = v
            else:
                out.pop(m, None)
    return out


def _poly(x) -> dict:
    if isinstance(x, Extent):
        return x.poly
    return {(): int(x)} if int(x) else {}


def _make(poly: dict, value: int, epoch: int):
    """An Extent, or the plain int when no symbol is left."""
    if not poly:
        return 0
    if len(poly) == 1 and () in poly:
        return poly[()]
    return Extent(poly, value, epoch)


def _epoch(a: "Extent", b) -> int:
    if isinstance(b, Extent) and b.epoch != a.epoch:
        raise GuardError("extents of two compilations combined")
    return a.epoch


def sizes_of(env: Mapping[str, int]) -> dict[str, "Extent"]:
    """``{symbol: Extent}`` for the sizes ``env``: the planning values of one
    compilation (one epoch shared by all its symbols)."""
    epoch = next(_epochs)
    return {k: Extent.symbol(k, v, epoch) for k, v in env.items()}


def slice_indices(entry: slice, size) -> tuple:
    """``entry.indices(size)`` for an int or extent ``size``: with a run-time size and
    step 1, bounds computed as extents (the clipping comparisons become guards, such as
    ``n >= 1`` for ``x[1:]``); other steps observe the size."""
    if not isinstance(size, Extent) or entry.step not in (None, 1):
        return entry.indices(size if not isinstance(size, Extent) else int(size))

    def bound(v, default):
        if v is None:
            return default
        if not isinstance(v, Extent):   # (a bound that is an extent stays one)
            v = int(v)
        if v < 0:
            v = size + v
            return 0 if v < 0 else v
        return size if v > size else v
    return bound(entry.start, 0), bound(entry.stop, size), 1


def estimate(x) -> int:
    """The planning value of an int or extent *without* a guard: for cost estimates
    (scheduling, thread splits) only, never for what the code computes."""
    return x.value if isinstance(x, Extent) else x


def evaluate(x, env: Mapping[str, int]) -> int:
    """The value of an int or extent for the sizes ``env``."""
    return x.evaluate(env) if isinstance(x, Extent) else x


class Extent:
    """A size: ``poly`` (``{monomial: coefficient}``, a monomial a sorted tuple of
    symbol names and :class:`_Div` terms) with ``value``, its size in the binding being
    compiled. Build one with :meth:`symbol`."""

    __slots__ = ("poly", "value", "epoch", "_hash")

    def __init__(self, poly: dict, value: int, epoch: int = 0):
        self.poly = poly
        self.value = int(value)
        self.epoch = epoch
        self._hash = None

    @classmethod
    def symbol(cls, name: str, value: int, epoch: int | None = None) -> "Extent":
        """The size ``name`` with planning value ``value``; ``epoch`` (default: a new
        one) tells apart the extents of separate compilations: extents of different
        epochs are never equal, so nothing cached for one compilation (interned nodes,
        shapes) is reused by another without its guards."""
        return cls({(name,): 1}, value, next(_epochs) if epoch is None else epoch)

    # -- identity and text (never the value) --------------------------------------------
    def key_text(self) -> str:
        terms = []
        for m in sorted(self.poly, key=_mono_key):
            c = self.poly[m]
            body = "*".join(_atom_key(a) for a in m)
            if not body:
                terms.append(str(c))
            elif c == 1:
                terms.append(body)
            elif c == -1:
                terms.append(f"-{body}")
            else:
                terms.append(f"{c}*{body}")
        return "+".join(terms).replace("+-", "-")

    def __str__(self) -> str:
        return self.key_text()

    def __format__(self, spec: str) -> str:
        if spec:   # a numeric format ("%d", "{:5}") would print the value: refused
            raise TypeError(f"an extent ({self.key_text()}) has no numeric format")
        return self.key_text()

    def __repr__(self) -> str:
        return f"Extent({self.key_text()}={self.value})"

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(("extent", self.epoch, self.key_text()))
        return self._hash

    def symbols(self) -> set[str]:
        out: set[str] = set()
        for m in self.poly:
            for a in m:
                if isinstance(a, str):
                    out.add(a)
                else:
                    out |= a.num.symbols()
        return out

    def evaluate(self, env: Mapping[str, int]) -> int:
        total = 0
        for m, c in self.poly.items():
            t = c
            for a in m:
                t *= env[a] if isinstance(a, str) else a.evaluate(env)
            total += t
        return total

    # -- arithmetic (extents stay extents) --------------------------------------------
    def __add__(self, other):
        if not isinstance(other, (int, Extent)) or isinstance(other, bool):
            return NotImplemented
        return _make(_poly_add(self.poly, _poly(other)), self.value + _val(other),
                     _epoch(self, other))

    __radd__ = __add__

    def __sub__(self, other):
        if not isinstance(other, (int, Extent)) or isinstance(other, bool):
            return NotImplemented
        return _make(_poly_add(self.poly, _poly(other), -1), self.value - _val(other),
                     _epoch(self, other))

    def __rsub__(self, other):
        if not isinstance(other, int) or isinstance(other, bool):
            return NotImplemented
        return _make(_poly_add(_poly(other), self.poly, -1), other - self.value, self.epoch)

    def __mul__(self, other):
        if not isinstance(other, (int, Extent)) or isinstance(other, bool):
            return NotImplemented
        return _make(_poly_mul(self.poly, _poly(other)), self.value * _val(other),
                     _epoch(self, other))

    __rmul__ = __mul__

    def __neg__(self):
        return _make({m: -c for m, c in self.poly.items()}, -self.value, self.epoch)

    def __pos__(self):
        return self

    def _divide(self, other, op: str):
        if isinstance(other, Extent):   # by a size known only at run time: observed
            other = int(other)
        if not isinstance(other, int) or isinstance(other, bool):
            return NotImplemented
        if other <= 0:
            raise ZeroDivisionError("an extent divided by a non-positive integer")
        const = self.poly.get((), 0)
        rest = {m: c for m, c in self.poly.items() if m}
        if all(c % other == 0 for c in rest.values()):
            if op == "//":
                return _make(_poly_add({m: c // other for m, c in rest.items()},
                                       _poly(const // other)), self.value // other,
                             self.epoch)
            return const % other
        return _make({(_Div(op, self, other),): 1},
                     self.value // other if op == "//" else self.value % other, self.epoch)

    def __floordiv__(self, other):
        return self._divide(other, "//")

    def __mod__(self, other):
        return self._divide(other, "%")

    def __divmod__(self, other):
        return self._divide(other, "//"), self._divide(other, "%")

    def __rfloordiv__(self, other):
        return other // int(self)

    def __rmod__(self, other):
        return other % int(self)

    def __truediv__(self, other):
        return float(self) / other

    def __rtruediv__(self, other):
        return other / float(self)

    # -- observations (recorded as guards) ---------------------------------------------
    def _compare(self, other, op: str):
        if isinstance(other, Extent) and other.epoch != self.epoch:
            if op in ("==", "!="):   # (only caches compare across compilations)
                return op == "!="
            raise GuardError("extents of two compilations compared")
        if isinstance(other, float):
            return _OPS_ALL[op](float(self), other)
        if not isinstance(other, (int, Extent)) or isinstance(other, bool):
            return NotImplemented
        diff = self - other
        if not isinstance(diff, Extent):   # equal as polynomials up to a constant
            return _OPS_ALL[op](diff, 0)
        # recorded as diff == 0, diff < 0 or diff <= 0 (>, >= and != by negation)
        base, negate = _BASE[op]
        return _observe(diff, base, _OPS[base](diff.value, 0)) != negate

    def __eq__(self, other):
        return self._compare(other, "==")

    def __ne__(self, other):
        return self._compare(other, "!=")

    def __lt__(self, other):
        return self._compare(other, "<")

    def __le__(self, other):
        return self._compare(other, "<=")

    def __gt__(self, other):
        return self._compare(other, ">")

    def __ge__(self, other):
        return self._compare(other, ">=")

    def __bool__(self) -> bool:
        return self != 0

    def __int__(self) -> int:
        _observe(self - self.value, "==", True)
        return self.value

    __index__ = __int__

    def __float__(self) -> float:
        return float(int(self))


_OPS_ALL = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
            ">": operator.gt, ">=": operator.ge}
_BASE = {"==": ("==", False), "!=": ("==", True), "<": ("<", False), "<=": ("<=", False),
         ">": ("<=", True), ">=": ("<", True)}
"""Each comparison as a recorded one (``expr OP 0``) and whether to negate it."""


def _val(x) -> int:
    return x.value if isinstance(x, Extent) else x


def _observe(expr, op: str, result: bool) -> bool:
    """Record ``expr OP 0 is result`` (a no-op for a plain int) and return ``result``."""
    if not isinstance(expr, Extent):
        return result
    log = _log()
    if log is None:
        raise GuardError(f"the run-time size {expr!r} was observed outside code "
                         "generation")
    log.append(Guard(expr, op, result))
    return result
