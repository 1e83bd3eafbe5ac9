"""The primitive registry: one record per operation.

Everything mathematical about an operation lives in its :class:`Primitive` record
(after JAX's ``Primitive`` objects and tinygrad's per-op tables, see
``../shared/STYLE.md``): its arity and parameters, shape rule, NumPy implementation
(the reference semantics), derivative rules, how it prints (text, infix precedence,
LaTeX), the domain its tests sample, and the *names* the backends use to lower it
(``llvm`` and ``cuda``). Backend code stays in the backends; they read these names.

Derivative rules come in two forms:

* ``partials(*args, out=..., **params)``: the local partial derivatives
  ``∂out/∂argᵢ`` as graph nodes (``None`` for an identically zero one). Forward mode
  forms ``ẏ = Σ ∂ᵢ·ẋᵢ`` and reverse mode ``x̄ᵢ += ȳ·∂ᵢ`` from them, so the two modes
  cannot disagree (CasADi's approach).
  An optional ``edges`` rule corrects those partials at edge points (NaN arguments,
  signed zeros) without changing the form that trace tables print.
* ``jvp`` / ``vjp``: explicit rules for ops that are not a sum of products, such as
  ``where`` (a select must not multiply a non-finite partial by a zero mask) and
  structural array ops (JAX's JVP + transpose).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import GraphcError, ShapeError
from .node import DTYPES, Node, make_node


def broadcast_shapes(*shapes: tuple) -> tuple:
    """NumPy broadcasting of static shapes (dimensions are ints or symbol names).

    Raises:
        ShapeError: the shapes cannot be broadcast together (names both shapes).
    """
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(ndim):
        dim = 1
        for s in shapes:
            j = i - (ndim - len(s))
            if j < 0:
                continue
            d = s[j]
            if d == 1:
                continue
            if dim == 1:
                dim = d
            elif d != dim:
                raise ShapeError(
                    f"shapes {' and '.join(str(tuple(s)) for s in shapes)} cannot be broadcast "
                    f"together (dimension {i}: {dim} vs {d})")
        out.append(dim)
    return tuple(out)


def elementwise_shape(*args: Node, **params) -> tuple:
    return broadcast_shapes(*(a.shape for a in args))


@dataclass(frozen=True, eq=False)
class Primitive:
    """The one record of an operation. See the module docstring for the fields' roles.

    Attributes:
        name: unique op name (``"sin"``).
        arity: number of node arguments.
        impl: NumPy implementation ``impl(*arrays, **params) -> ndarray``; the
            reference semantics every backend must match.
        fmt: text template over argument texts, e.g. ``"{0} + {1}"`` or ``"sin({0})"``.
        precedence: binding strength for infix printing (function form: 100).
        latex: LaTeX template over argument LaTeX.
        textbook: the textbook (Unicode) spelling, a template over argument texts
            (``"{0} × {1}"``, ``"−{0}"``); a function name followed by a space and
            ``{0}`` (``"ln {0}"``) is applied without parentheses to an atomic argument
            (``ln x``, ``ln(x + y)``). Empty: ``fmt``. Printing: :mod:`graphc.ir.printer`.
        associativity: for infix operators: ``"left"`` (``a - b - c``), ``"right"``
            (``^``), ``"none"`` (comparisons, which chain in the parser), or ``"both"``
            (mathematically associative, ``+`` ``*``: the math styles drop parentheses
            at equal precedence; the source style still prints the exact tree).
        llvm: the name the LLVM lowering uses (an intrinsic like ``"llvm.sin"``, a libm
            symbol like ``"tan"``, an instruction like ``"fadd"``, or a key of the LLVM
            backend's table of composite lowerings).
        cuda: a CUDA expression template over ``{0}``, ``{1}``... (and ``{param}``),
            written as a Numba CUDA (Python) expression: ``math.sin({0})``,
            ``(1.0 if {0} > 0 else 0.0)``; arguments are SSA variable names.
        partials: local partials rule (see module docstring), or None.
        jvp, vjp: explicit derivative rules overriding ``partials``.
        differentiable: False for ops whose derivative is identically zero
            (comparisons, ``sign``, ``heaviside``).
        masks: the op's value can be an exact zero *by masking* (comparisons,
            ``heaviside``, ``relu``...).
        unbounded: the op may give a *non-finite* value (±inf or NaN) for finite
            arguments: a pole or overflow (``div``, ``log``, ``exp``, ``tan``...) or
            an argument outside its real domain (``sqrt``, ``log``, ``asin``,
            ``acos``, ``pow`` of a negative base...). Plain arithmetic overflowing
            near the largest float (``1e308 + 1e308``) does not count: the flag is
            checked against NumPy on finite arguments of magnitude up to 1e3, in
            float64 and float32 (tests/hardening/test_masked_branches.py). AD
            multiplies a possibly masked zero by a possibly non-finite factor with
            zero absorption (``0·∞ = 0·NaN = 0``), so a branch masked away cannot
            poison a gradient with NaN (see graphc/passes/ad.py). Setting the flag
            where it is not needed only costs a select in masked graphs; missing it
            where it is needed gives NaN gradients.
        edges: ``edges(parts, *args, out=..., **params) -> parts``: the local partials
            of ``partials`` (the textbook forms, which trace tables print: ``1/x``,
            ``0.5/√x``, ``heaviside(x)``) made exact at the edge points where those
            forms are wrong: a NaN argument (``heaviside(NaN) = 0`` would give a finite
            ``relu'``), a signed zero (``1/-0 = -inf`` for ``log'(-0)``), ``0·∞`` in
            ``y·x^(y-1)`` at ``x = y = 0``. The AD passes multiply by these; None: the
            textbook forms are exact.
        aliases: the names the expression parser accepts for it.
        param_names: names of static parameters, in the order the parser takes them
            as trailing positional arguments; ``param_defaults`` gives defaults.
        domain: per-argument (low, high) box the per-primitive tests sample.
        smooth: False where the op has kinks (tests avoid finite differences there).
        commutative: argument order does not matter (CSE canonicalises it).
        shape_rule: ``shape_rule(*args, **params) -> shape``; NumPy broadcasting default.
        doc: one-line description.
        elementwise: True for ops applied entry by entry (with NumPy broadcasting);
            False for array ops (reductions, ``matmul``, reshapes, slices...), which
            only the array backends lower; their ``llvm`` and ``cuda`` are keys of
            those backends' lowerings (``"array.view"``, ``"decompose"``...).
        canonical: ``canonical(*args, **params) -> params``: validates and normalises
            the static parameters (``axis=-1`` to ``axis=(1,)``...) so that equal
            nodes intern to one; it may add ``_text``, the parameters as printed.
            Parameters whose names start with ``_`` are derived, never given.
        decompose: ``decompose(*args, out=..., **params) -> Node``: the same value
            built from simpler primitives (``softmax`` from ``exp``, ``sum``...), for
            backends without a direct lowering (tinygrad's decompositions).
        examples: test cases for array ops: ``((arg shapes...), {params})`` pairs
            that the registry-driven tests evaluate and differentiate.
        cost: relative work per output element, in units of one floating-point add:
            1 for arithmetic, comparisons, selects and masks; 4 for a division; 8 for
            a square root; 30 for a call to a transcendental (libm/libmvec) function
            or a composite lowering. None (the default) derives it from ``llvm``
            (:func:`default_cost`). Backends decide from it what to recompute rather
            than store (``graphc.backends.plan.is_cheap``) and when to use threads.
        ulp: accuracy contract of an elementwise op: the largest error, in units in
            the last place of the correctly rounded result, that its NumPy
            implementation and a backend may have. 0: the op is correctly rounded or
            exact (IEEE ``+ - * /``, ``sqrt``, comparisons, selects, ``min``/``max``,
            rounding to an integer), so every backend must give NumPy's bits; 4: a
            libm/libmvec function (glibc documents libmvec to 4 ulp); more for a
            composite that rounds several times (``sigmoid``, ``softplus``: 6). None
            (the default) derives it from ``cost`` (:func:`default_ulp`). The tests'
            bit-exact sets, their ulp tolerances and the corpus's perturbed reference
            (graphc/corpus.py) are read from it.
        batch: the batching rule of :func:`graphc.vmap`: ``batch(node, args, axes) ->
            (out, out_axis)``: given ``node`` (the op applied to one example), its
            arguments rebuilt over a batch (``args``) and, per argument, the axis that
            holds the batch (``axes``, an int or None for an argument not batched;
            at least one is an int), the batched value ``out`` built from registered
            primitives and the axis of ``out`` that holds the batch (JAX's
            ``primitive_batchers``). Elementwise ops get
            :func:`graphc.ir.batching.elementwise_batch` (batch axes moved to the
            front, then NumPy broadcasting); None: the op cannot be batched.
        integer_args: for ops with arguments that hold integers (class labels, gather
            indices): ``integer_args(shapes, params) -> {position: (low, high)}``, the
            half-open range of valid values of each such argument, given the
            arguments' shapes and the op's parameters (defaults filled in). These
            arguments are not differentiated; backends check their values at call
            time; tests sample them from this range.
    """

    name: str
    arity: int
    impl: Callable[..., Any]
    fmt: str
    precedence: int = 100
    latex: str = ""
    textbook: str = ""
    associativity: str = "left"
    llvm: str | None = None
    cuda: str | None = None
    partials: Callable[..., tuple] | None = None
    jvp: Callable[..., Any] | None = None
    vjp: Callable[..., tuple] | None = None
    differentiable: bool = True
    masks: bool = False
    unbounded: bool = False
    edges: Callable[..., tuple] | None = None
    aliases: tuple[str, ...] = ()
    param_names: tuple[str, ...] = ()
    param_defaults: dict = field(default_factory=dict)
    domain: tuple[tuple[float, float], ...] = ()
    smooth: bool = True
    commutative: bool = False
    shape_rule: Callable[..., tuple] = elementwise_shape
    doc: str = ""
    elementwise: bool = True
    canonical: Callable[..., dict] | None = None
    decompose: Callable[..., Any] | None = None
    examples: tuple = ()
    cost: int | None = None
    ulp: float | None = None
    batch: Callable[..., tuple] | None = None
    integer_args: Callable[..., dict] | None = None

    def __post_init__(self):
        if self.batch is None and self.elementwise:
            from .batching import elementwise_batch  # a module beside this one
            object.__setattr__(self, "batch", elementwise_batch)
        if self.cost is None:
            object.__setattr__(self, "cost", default_cost(self.llvm))
        if self.ulp is None:
            object.__setattr__(self, "ulp", default_ulp(self.cost))

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"

    def __reduce__(self):
        return (get_primitive, (self.name,))


_UNIT_COST = frozenset({
    "fadd", "fsub", "fmul", "fneg", "select", "llvm.fabs", "minimum", "maximum", "relu",
    "leaky_relu", "sign", "heaviside", "square", "array.one_hot", "input", "const"})
_COSTS = {"fdiv": 4, "reciprocal": 4, "llvm.sqrt": 8, "array.view": 0}


def default_cost(llvm: str | None) -> int:
    """The :attr:`Primitive.cost` of an op lowered as ``llvm``: 1 for an instruction
    (``fadd``, ``fcmp_*``, ``select``, ``llvm.fabs``) or a short select/mask composite
    (``relu``, ``sign``...), 4 for ``fdiv``, 8 for ``llvm.sqrt``, 0 for an array view,
    30 for anything else (a libm/libmvec call, a reduction or contraction per
    element). Rough throughput ratios on x86-64 (Agner Fog's instruction tables)."""
    name = llvm or ""
    if name in _UNIT_COST or name.startswith("fcmp"):
        return 1
    return _COSTS.get(name, 30)


def default_ulp(cost: int) -> float:
    """The :attr:`Primitive.ulp` of an op of that :attr:`~Primitive.cost`: 0 below the
    cost of a library call (an IEEE instruction, a division or square root, a select
    or mask composite: correctly rounded or exact), else 4 (a libm/libmvec function:
    glibc's documented libmvec bound; the scalar libm functions are within it)."""
    return 0.0 if cost < 30 else 4.0


PRIMITIVES: dict[str, Primitive] = {}
"""Every registered primitive, by name, in registration order."""

_BY_ALIAS: dict[str, Primitive] = {}


_ON_CHANGE: list[Callable[[], Any]] = []


def on_registry_change(hook: Callable[[], Any]) -> Callable[[], Any]:
    """Call ``hook()`` after every :func:`register` and :func:`unregister` (the layers
    above use it to regenerate what they derive from the registry: the NumPy-style
    functions of ``graphc.numpy_api`` and ``graphc.numpy``); returns ``hook``."""
    _ON_CHANGE.append(hook)
    return hook


def _changed() -> None:
    for hook in list(_ON_CHANGE):
        hook()


def register(prim: Primitive) -> Primitive:
    """Add ``prim`` to the registry and return it: the one step of adding an operation
    (see docs/adding_a_primitive.md). From then on the parser knows its name and
    aliases, the printers, AD passes and NumPy interpreter use its record, and
    ``graphc.numpy`` / ``graphc.numpy_api`` have functions for it; ``gc.compile``
    expands an elementwise op through its ``decompose`` rule for a backend whose
    lowering name (``llvm``/``cuda``) it leaves None.

    Args:
        prim: a :class:`Primitive` whose name is new.

    Raises:
        GraphcError: the name is taken, or ``prim`` is not a :class:`Primitive`.
    """
    if not isinstance(prim, Primitive):
        raise GraphcError(f"register takes a graphc Primitive, got {type(prim).__name__}")
    if prim.name in PRIMITIVES or prim.name in HIGHER_ORDER:
        raise GraphcError(f"primitive {prim.name!r} is already registered")
    PRIMITIVES[prim.name] = prim
    for alias in (prim.name,) + prim.aliases:
        _BY_ALIAS.setdefault(alias, prim)
    _changed()
    return prim


def unregister(name: str) -> Primitive:
    """Remove the primitive ``name`` registered by :func:`register` (and the parser
    names that point to it) and return its record; for tests and interactive
    sessions. Graphs that still hold its nodes keep working where they need only the
    record (printing, the interpreter), but the parser no longer knows it.

    Raises:
        GraphcError: no primitive of that name.
    """
    prim = PRIMITIVES.pop(name, None)
    if prim is None:
        raise GraphcError(f"no primitive {name!r} is registered")
    for alias in [a for a, p in _BY_ALIAS.items() if p is prim]:
        del _BY_ALIAS[alias]
        other = next((p for p in PRIMITIVES.values() if alias in (p.name,) + p.aliases),
                     None)
        if other is not None:
            _BY_ALIAS[alias] = other
    _changed()
    return prim


def local_partials(prim: Primitive, *args: Node, out: Node, **params) -> tuple:
    """The local partials ``∂out/∂argᵢ`` the AD passes multiply by: the record's
    ``partials`` (None entries are identically zero), corrected by its ``edges`` rule
    when it has one.

    Args:
        prim: a primitive with a ``partials`` rule.
        *args: its argument nodes; ``out``: the node ``prim(*args)``; ``**params``: its
            static parameters.
    """
    parts = tuple(prim.partials(*args, out=out, **params))
    if prim.edges is not None:
        parts = tuple(prim.edges(parts, *args, out=out, **params))
    return parts


HIGHER_ORDER: dict[str, Primitive] = {}
"""Primitives over sub-graphs (``scan``, ``while_loop``, ``switch``: see
graphc/ir/control_flow.py), by name. Kept apart from :data:`PRIMITIVES`, whose
registry-generated tests are about first-order operations."""


def register_higher_order(prim: Primitive) -> Primitive:
    """Add a primitive over sub-graphs to :data:`HIGHER_ORDER` (a new name) and return it."""
    if prim.name in PRIMITIVES or prim.name in HIGHER_ORDER:
        raise GraphcError(f"primitive {prim.name!r} is already registered")
    HIGHER_ORDER[prim.name] = prim
    return prim


def get_primitive(name: str) -> Primitive:
    """The registered primitive of that name (first-order or higher-order)."""
    prim = PRIMITIVES.get(name)
    return prim if prim is not None else HIGHER_ORDER[name]


def lookup_function(name: str) -> Primitive | None:
    """The primitive a parser-visible function name refers to, or None."""
    return _BY_ALIAS.get(name)


def function_names() -> list[str]:
    """All function names the parser accepts (primitive names and aliases)."""
    return sorted(n for n, p in _BY_ALIAS.items() if p.arity > 0 and not n.startswith("_"))


def result_dtype(args: tuple[Node, ...]) -> str:
    """The dtype of an elementwise result: float64 if any argument is float64."""
    if not args:
        return "float64"
    return "float64" if any(a.dtype == "float64" for a in args) else "float32"


def apply(prim: Primitive, *args: Node, **params) -> Node:
    """Build the interned node ``prim(*args; params)``, inferring dtype and shape.

    Args:
        prim: a registered primitive.
        *args: ``prim.arity`` argument nodes.
        **params: values for ``prim.param_names`` (defaults filled in).

    Raises:
        ShapeError: wrong number of arguments, or shapes that do not combine.
    """
    if len(args) != prim.arity:
        raise ShapeError(f"{prim.name} takes {prim.arity} argument(s), got {len(args)}")
    for a in args:
        if not isinstance(a, Node):
            raise TypeError(f"{prim.name}: argument {a!r} is not a graph node")
    if params or prim.param_names:
        full = dict(prim.param_defaults)
        full.update(params)
        full.pop("_text", None)  # derived by ``canonical``, never given
        unknown = set(full) - set(prim.param_names)
        if unknown:
            raise ShapeError(f"{prim.name} has no parameter(s) {', '.join(sorted(unknown))}")
        if prim.canonical is not None:
            try:
                full = prim.canonical(*args, **full)
            except ShapeError as exc:
                raise ShapeError(f"{prim.name}: {exc}") from None
        ptuple = tuple(sorted(full.items()))
    else:
        full, ptuple = {}, ()
    if prim.shape_rule is elementwise_shape and all(not a.shape for a in args):
        shape = ()  # the common scalar case, without the general broadcast
    else:
        try:
            shape = prim.shape_rule(*args, **full)
        except ShapeError as exc:
            raise ShapeError(f"{prim.name}: {exc}") from None
    dtype = result_dtype(args)
    return make_node(prim, tuple(args), ptuple, dtype, shape)


def leaf(prim: Primitive, params: dict, dtype: str = "float64", shape: tuple = ()) -> Node:
    """Build an interned leaf node (input or constant) of the given dtype and shape."""
    if dtype not in DTYPES:
        raise ShapeError(f"unsupported dtype {dtype!r}; graphc supports {', '.join(DTYPES)}")
    return make_node(prim, (), tuple(sorted(params.items())), dtype, tuple(shape))
