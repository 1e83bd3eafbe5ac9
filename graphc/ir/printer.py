"""One expression printer for every textual form of a graph, in three styles.

* ``source``: what :func:`graphc.parse` reads back into the same nodes
  (``-x ^ 2 + log(x) * (y - 1)``). Parentheses follow the parser's grammar
  exactly: the right operand of a left-associative operator at equal precedence is
  parenthesised even where mathematics would not need it (``a + (b + c)``), so
  the printed tree is the parsed tree; comparisons never chain (``(a < b) < c``).
* ``textbook``: the Unicode notation of the evaluation-trace tables (Griewank &
  Walther 2008, §2.2; Baydin et al. 2018, Tables 2-3): ``ln x₁ + x₁ × x₂ − sin x₂``,
  ``v̄₃ ⊙ (1 − v₃ ⊙ v₃)``, ``v₀ᵀ``.
* ``latex``: LaTeX math, simplified for display and array-correct:
  ``\\frac{1}{x_{1}^{2}}`` rather than nested fractions, ``-\\frac{a}{b}`` without
  parentheses, ``x \\odot y`` for the elementwise product of two arrays and
  juxtaposition for products with a scalar (``2 x``, ``a b``), ``W x`` for the matrix
  product and ``W^\\top`` for the transpose, ``x`` for ``x + 0`` (the signed-zero
  guard of derivative rules) and ``a - b`` for ``a + (-b)``. The simplifications are
  of the display only and hold for IEEE values (``x·1 = x``, ``-(-x) = x``) except
  that ``(a/b)/c`` is shown as ``a/(b c)``.
  ``textbook_latex`` is the LaTeX of the trace tables: no simplification (a trace
  line shows the operation as computed), ``\\times`` for scalar products and
  ``a/b`` between atoms.

Everything the styles need to know about an operation comes from its
:class:`~graphc.ir.primitive.Primitive` record: ``fmt`` (source), ``textbook``,
``latex``, ``precedence`` and ``associativity``; a new primitive prints in every style
without a change here (``\\operatorname{name}\\left(...\\right)`` without a ``latex``
template). Precedence and parentheses are decided in one place,
:meth:`Printer._operand`. The walk is iterative, so deep graphs print without
recursion.

Only the standard library and :mod:`graphc.ir` are imported.
"""

from __future__ import annotations

import math
import re
import string
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Mapping, NamedTuple

from .node import Node

ATOM = 100
"""Precedence of names, numbers and anything delimited on both sides."""
APPLY = 50
"""Precedence of a function applied without parentheses (``sin x``, ``√x``): it binds
tighter than products but is no power base."""
NEG = 30
"""Precedence of a unary minus, and of negative numbers printed bare."""
ADD = 10
MUL = 20
POW = 40
MAX_FACTORS = 32
"""Largest product (factors) the latex style regroups into one fraction."""
MINUS = "\u2212"

GREEK = frozenset((
    "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta",
    "vartheta", "iota", "kappa", "lambda", "mu", "nu", "xi", "pi", "rho", "sigma", "tau",
    "upsilon", "phi", "varphi", "chi", "psi", "omega", "Gamma", "Delta", "Theta", "Lambda",
    "Xi", "Pi", "Sigma", "Upsilon", "Phi", "Psi", "Omega"))
LATEX_OPERATORS = frozenset((
    "arccos", "arcsin", "arctan", "arg", "cos", "cosh", "cot", "coth", "csc", "deg", "det",
    "dim", "exp", "gcd", "hom", "inf", "ker", "lg", "lim", "ln", "log", "max", "min", "Pr",
    "sec", "sin", "sinh", "sup", "tan", "tanh"))
"""The named operators of LaTeX itself (``\\sin``...; fontmath.ltx / amsopn)."""
_SUB = str.maketrans("0123456789-+", "₀₁₂₃₄₅₆₇₈₉₋₊")
_SUP = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
_PREFIX = re.compile(r"^([^\s{}]+?) ?\{0\}$")


class Piece(NamedTuple):
    """A printed subexpression.

    Attributes:
        text: the text in the style.
        prec: binding strength (:data:`ATOM` for atoms and delimited forms).
        kind: ``atom`` (name or number), ``group`` (delimited: ``f(x)``,
            ``\\left|x\\right|``), ``frac`` (``\\frac{a}{b}``: delimited, but no power
            base), ``func`` (a function applied without parentheses, ``sin x``),
            ``open`` (an operator expression ending in such a function, ``x + sin y``),
            ``infix``, ``hadamard`` (an elementwise product of arrays).
        positive: for a negation ``-a``, the text of ``a`` (so ``b + -a`` prints
            ``b - a``); else None.
    """

    text: str
    prec: int
    kind: str = "atom"
    positive: str | None = None


@dataclass(frozen=True)
class Style:
    """How one style spells things (see the module docstring for the three styles).

    Attributes:
        name: ``source``, ``textbook``, ``latex`` or ``textbook_latex``.
        latex: LaTeX output (``\\left( \\right)``, record ``latex`` templates).
        strict: parenthesise so that the parser rebuilds the exact tree.
        times: the product of two factors of which at least one is a scalar; ``" "``
            is juxtaposition.
        hadamard: the elementwise product of two arrays.
        fraction: ``"slash"`` (``a/b``), ``"frac"`` (``\\frac``) or ``"frac_unless_atoms"``.
        prefix: write functions whose ``textbook`` spelling is ``"name {0}"`` without
            parentheses before atoms (``sin x``).
        simplify: display simplifications (latex style, see the module docstring).
        minus: the minus sign of the style.
    """

    name: str
    latex: bool = False
    strict: bool = False
    times: str = " * "
    hadamard: str = " * "
    fraction: str = "slash"
    prefix: bool = False
    simplify: bool = False
    minus: str = "-"


SOURCE = Style("source", strict=True)
TEXTBOOK = Style("textbook", times=" \u00d7 ", hadamard=" \u2299 ", prefix=True, minus=MINUS)
LATEX = Style("latex", latex=True, times=" ", hadamard=r" \odot ", fraction="frac",
              simplify=True)
TEXTBOOK_LATEX = Style("textbook_latex", latex=True, times=r" \times ", hadamard=r" \odot ",
                       fraction="frac_unless_atoms", prefix=True)
STYLES = {s.name: s for s in (SOURCE, TEXTBOOK, LATEX, TEXTBOOK_LATEX)}


# ---------------------------------------------------------------------------------
# leaves


def format_const(value: float) -> str:
    """A constant as the parser reads it back exactly: ``2``, ``0.5``, ``1e-05``,
    ``inf``, ``nan``; negatives in parentheses (``(-2)``, ``(-0.0)``)."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "(-inf)"
    if value.is_integer() and abs(value) < 1e15 and not (
            value == 0 and math.copysign(1, value) < 0):
        text = str(int(value))
    else:
        text = repr(value)
    return f"({text})" if text.startswith("-") else text


def latex_name(name: str) -> str:
    """An input or label name as LaTeX: ``x1`` → ``x_{1}``, ``theta`` → ``\\theta``,
    ``x_dot`` → ``\\dot{x}``, ``w_out`` → ``w_{\\mathrm{out}}``, ``loss`` →
    ``\\mathrm{loss}``."""
    for suffix, accent in (("_dot", r"\dot"), ("_bar", r"\bar"), ("_hat", r"\hat")):
        if name.endswith(suffix) and len(name) > len(suffix):
            return f"{accent}{{{latex_name(name[:-len(suffix)])}}}"
    name = name.rstrip("_") or name
    m = re.fullmatch(r"([A-Za-z]+?)_?(\d+)", name)
    if m:
        return f"{_latex_word(m.group(1))}_{{{m.group(2)}}}"
    if "_" in name:
        head, tail = name.split("_", 1)
        if head:
            return f"{_latex_word(head)}_{{{latex_name(tail) if tail else ''}}}"
    return _latex_word(name)


def _latex_word(word: str) -> str:
    if word in GREEK:
        return "\\" + word
    if len(word) == 1:
        return word
    return r"\mathrm{" + word.replace("_", r"\_") + "}"


def latex_number(value: float) -> str:
    """A constant in LaTeX: ``2``, ``0.5``, ``1.5 \\cdot 10^{-5}``, ``\\pi``,
    ``\\infty``, ``\\mathrm{NaN}``."""
    if math.isnan(value):
        return r"\mathrm{NaN}"
    if math.isinf(value):
        return r"\infty" if value > 0 else r"-\infty"
    if value == math.pi:
        return r"\pi"
    if value == math.e:
        return "e"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value)) if value != 0 else "0"
    text = repr(value)
    if "e" in text:
        mant, ex = text.split("e")
        return f"{mant} \\cdot 10^{{{int(ex)}}}"
    return text


def textbook_name(name: str) -> str:
    """A name in textbook Unicode: a trailing number as a subscript (``x1`` → ``x₁``)."""
    m = re.fullmatch(r"([A-Za-z]+)(\d+)", name)
    return m.group(1) + m.group(2).translate(_SUB) if m else name


def textbook_number(value: float, digits: int = 6) -> str:
    """``value`` to ``digits`` significant digits (``%g``) with a typographic minus."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else f"{MINUS}inf"
    text = format(0.0 if value == 0 else value, f".{max(1, int(digits))}g")
    return text.replace("-", MINUS)


def _default_leaf(style: Style) -> Callable[[Node], str]:
    if style.name == "source":
        return lambda n: format_const(n.value) if n.is_const else n.name
    if style.latex:
        return lambda n: latex_number(n.value) if n.is_const else latex_name(n.name)
    return lambda n: textbook_number(n.value) if n.is_const else textbook_name(n.name)


# ---------------------------------------------------------------------------------
# LaTeX templates: where an argument sits


class _AnyParam(dict):
    def __missing__(self, key):  # every parameter formats as itself
        return key


_PLACES: dict[tuple[str, int], tuple[str, ...]] = {}


def template_places(template: str, arity: int) -> tuple[str, ...]:
    """For each argument of a LaTeX template, where it sits: ``"grouped"`` (inside
    braces or ``\\left ... \\right``: it never needs parentheses), ``"base^"`` or
    ``"base_"`` (before ``^`` or ``_``: it must be an atom), ``"last"`` (ends the template, after a
    function name: ``\\sin {0}``) or ``"inline"``."""
    key = (template, arity)
    if key in _PLACES:
        return _PLACES[key]
    marks = [f"\x00{i}\x00" for i in range(arity)]
    try:
        text = string.Formatter().vformat(template, marks, _AnyParam())
    except (IndexError, KeyError, ValueError):
        text = ""
    out = []
    for mk in marks:
        pos = text.find(mk)
        if pos < 0:
            out.append("grouped")
            continue
        before, after = text[:pos], text[pos + len(mk):]
        depth = before.count("{") - before.count("}")
        lr = before.count(r"\left") - before.count(r"\right")
        script = re.match(r"(\}*)([\^_])", after)
        if script and before.endswith("{" * len(script.group(1))):
            out.append("base" + script.group(2))  # {0}^2, {{0}}_{i}
        elif depth > 0 or lr > 0 or r"\begin{cases}" in before:
            out.append("grouped")
        elif not after.strip():
            out.append("last")
        else:
            out.append("inline")
    _PLACES[key] = tuple(out)
    return _PLACES[key]


def _operatorname(word: str) -> str:
    return "\\" + word if word in LATEX_OPERATORS else r"\operatorname{" + word.replace(
        "_", r"\_") + "}"


# ---------------------------------------------------------------------------------
# the printer


class Printer:
    """Prints nodes as expressions in one :class:`Style`.

    Args:
        style: a :class:`Style` or one of the names in :data:`STYLES`.
        names: nodes printed as the given text (trace variables, statement names);
            the walk stops at them. A name starting with a minus sign binds as a
            negation.
        leaf: ``leaf(node) -> str`` for inputs and constants (default: the style's
            own: :func:`format_const`/the name, :func:`latex_number`/
            :func:`latex_name`, :func:`textbook_number`/:func:`textbook_name`).
        params: ``params(value) -> str`` for float parameters in templates (default:
            the leaf formatting of numbers).

    Raises:
        KeyError: an unknown style name.
    """

    def __init__(self, style: Style | str = SOURCE, names: Mapping[Node, str] | None = None,
                 leaf: Callable[[Node], str] | None = None,
                 params: Callable[[float], str] | None = None):
        self.style = STYLES[style] if isinstance(style, str) else style
        self.names = names or {}
        self.leaf = leaf or _default_leaf(self.style)
        self._param_number = params
        self.done: dict[Node, Piece] = {}
        self._factors: dict[Node, tuple | None] = {}

    # -- walk ----------------------------------------------------------------------

    def piece(self, root: Node) -> Piece:
        """The :class:`Piece` of ``root`` (iterative post-order; memoised)."""
        done = self.done
        stack: list[tuple[Node, bool]] = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if node in done:
                continue
            if node in self.names:
                text = self.names[node]
                done[node] = self._atom(text)
                continue
            if not node.args:
                done[node] = self._atom(self.leaf(node))
                continue
            if not expanded:
                stack.append((node, True))
                stack.extend((a, False) for a in reversed(node.args) if a not in done)
                continue
            done[node] = self._format(node, [done[a] for a in node.args])
        return done[root]

    def text(self, root: Node) -> str:
        """``root`` as one expression."""
        return self.piece(root).text

    def line(self, node: Node, arg_texts: list[str]) -> str:
        """One operation with its arguments given as texts (trace lines: ``v1 + v2``);
        the arguments print as given, whatever they compute."""
        sub = Printer(self.style, dict(zip(node.args, arg_texts)), self.leaf,
                      self._param_number)
        return sub.piece(node).text

    def _atom(self, text: str) -> Piece:
        s = self.style
        if text.startswith(s.minus) or (s.latex and text.startswith("-")):
            return Piece(text, NEG, "atom", text[len(s.minus) if text.startswith(s.minus)
                                                 else 1:])
        return Piece(text, ATOM, "atom")

    # -- parentheses: the one place -------------------------------------------------

    def _paren(self, p: Piece) -> Piece:
        if self.style.latex:
            return Piece(rf"\left({p.text}\right)", ATOM, "group")
        return Piece(f"({p.text})", ATOM, "group")

    def _operand(self, node: Node, i: int, p: Piece) -> Piece:
        """Argument ``i`` of the infix or prefix operator ``node``, parenthesised where
        its precedence (or, for math styles, its shape on the page) needs it."""
        s = self.style
        prim = node.prim
        prec = prim.precedence
        name = prim.name
        assoc = prim.associativity
        if prim.arity == 1:  # prefix minus, postfix subscript
            if name == "neg":
                if s.strict:
                    return self._paren(p) if p.prec < POW else p
                # -(a b) = -a b and -(a/b) = -a/b: only sums and negations need them
                return self._paren(p) if p.prec < MUL or p.prec == NEG else p
            return self._paren(p) if p.prec < ATOM or p.kind == "func" else p
        if name == "pow":
            if i == 0:  # the base: an atom, a delimited group or a postfix form
                if p.prec <= POW or p.kind in ("func", "frac") or p.positive is not None:
                    return self._paren(p)
                return p
            if s.latex:
                return p  # an exponent is a group of its own
            return self._paren(p) if p.prec < POW else p
        if p.positive is not None and (i == 1 or (name in ("mul", "div", "matmul")
                                                   and not s.strict)):
            # a negative operand: x × (−1), (−2)/x; -x * y parses as (-x) * y
            return self._paren(p) if not (s.strict and p.prec >= prec) else p
        if p.prec < prec:
            return self._paren(p)
        if p.prec == prec:
            child = node.args[i].prim.name if node.args[i] not in self.names else ""
            if assoc == "none":
                return self._paren(p)  # comparisons: (a < b) < c, never a chain
            if i == 1 and assoc != "right" and (s.strict or assoc != "both"):
                return self._paren(p)  # a - (b - c); source: a + (b + c) too
            if i == 0 and assoc == "right":
                return self._paren(p)
            if "matmul" in (name, child) and child != name and child:
                return self._paren(p)  # (a * b) @ c: @ never mixes with * unbracketed
        if (s.latex and s.times == " " and name in ("mul", "matmul") and i == 0
                and p.kind in ("func", "open")):
            return self._paren(p)  # \sin x \, y would read as \sin(x y)
        if p.kind == "hadamard" and not (name == "mul" and all(a.shape for a in node.args)):
            if name in ("mul", "matmul", "div"):
                return self._paren(p)  # a ⊙ b next to a scalar or matrix product
        return p

    # -- formatting ----------------------------------------------------------------

    def _params(self, node: Node) -> dict[str, str]:
        s = self.style
        out = {}
        for k, v in node.params:
            if isinstance(v, float):
                if self._param_number is not None:
                    out[k] = self._param_number(v)
                elif s.name == "source":
                    out[k] = format_const(v)
                elif s.latex:
                    out[k] = latex_number(v)
                else:
                    out[k] = textbook_number(v)
            else:
                out[k] = str(v)
        return out

    def _format(self, node: Node, args: list[Piece]) -> Piece:
        s = self.style
        prim = node.prim
        if s.simplify:
            simple = self._simplified(node, args)
            if simple is not None:
                return simple
        if s.name == "source":
            return self._format_source(node, args)
        name = prim.name
        if prim.precedence < ATOM and prim.arity == 2 and name != "pow":
            return self._binary(node, args)  # infix: + - * / @ and comparisons
        if name == "neg":
            a = self._operand(node, 0, args[0])
            return Piece(s.minus + a.text, NEG, "infix", args[0].text if a is args[0]
                         else a.text)
        if name == "pow":
            return self._power(node, args)
        if name == "transpose":
            # the record's W^\top / Wᵀ is the matrix transpose; other axes print by name
            if len(node.args[0].shape) != 2:
                return self._template(node, args, fallback=True)
            if not s.latex:  # a postfix: the argument must be an atom
                a = self._operand(node, 0, args[0])
                return Piece((prim.textbook or prim.fmt).format(a.text, **self._params(node)),
                             ATOM, "atom")
        return self._template(node, args)

    def _format_source(self, node: Node, args: list[Piece]) -> Piece:
        prim = node.prim
        if prim.name == "neg" and node.args[0].is_const:
            # the parser folds -2 to a constant; neg(2) is the neg node
            return Piece(f"neg({args[0].text})", ATOM, "group")
        texts = [a.text for a in args]
        if prim.precedence < ATOM:
            texts = [self._operand(node, i, a).text for i, a in enumerate(args)]
        return Piece(prim.fmt.format(*texts, **self._params(node)), prim.precedence,
                     "infix" if prim.precedence < ATOM else "group")

    def _binary(self, node: Node, args: list[Piece]) -> Piece:
        s = self.style
        prim = node.prim
        name = prim.name
        a, b = (self._operand(node, i, p) for i, p in enumerate(args))
        kind = "infix"
        if name == "mul":
            if all(x.shape for x in node.args):
                sym, kind = s.hadamard, "hadamard"
            elif s.times == " " and (b.text[:1].isdigit() or b.text.startswith("-")):
                sym = r" \cdot "
            else:
                sym = s.times
            text = a.text + sym + b.text
        elif name == "div" and s.latex and (s.fraction == "frac" or (
                s.fraction == "frac_unless_atoms"
                and (args[0].prec < ATOM or args[1].prec < ATOM))):
            return Piece(rf"\frac{{{args[0].text}}}{{{args[1].text}}}", ATOM, "frac")
        elif name == "div":
            text = f"{a.text}/{b.text}"
        elif name == "matmul" and s.latex:
            text = f"{a.text} {b.text}"
        else:
            template = (prim.latex if s.latex else prim.textbook) or prim.fmt
            text = template.format(a.text, b.text, **self._params(node))
        if b.kind in ("func", "open") and b is args[1]:
            kind = "open"
        return Piece(text, prim.precedence, kind)

    def _brace_base(self, text: str, op: str) -> str:
        """``text`` as the base of ``^`` or ``_``: braced when it already carries a
        script of that kind at its top level (``{x_{1}}_{[0]}``; TeX rejects double
        scripts)."""
        if not self.style.latex or (text.startswith(r"\left(") and text.endswith(r"\right)")
                                    and text.count(r"\left(") == 1):
            return text
        depth = 0
        for ch in text:
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            elif ch == op and depth == 0:
                return "{" + text + "}"
        return text

    def _power(self, node: Node, args: list[Piece]) -> Piece:
        s = self.style
        base = self._operand(node, 0, args[0])
        e = node.args[1]
        small = e.is_const and float(e.value).is_integer() and 0 <= e.value < 100
        if s.latex:
            exp = str(int(e.value)) if small else args[1].text
            return Piece(f"{self._brace_base(base.text, '^')}^{{{exp}}}", POW, "infix")
        if small:
            return Piece(base.text + str(int(e.value)).translate(_SUP), POW, "infix")
        return Piece(f"{base.text}^{self._operand(node, 1, args[1]).text}", POW, "infix")

    def _template(self, node: Node, args: list[Piece], fallback: bool = False) -> Piece:
        s = self.style
        prim = node.prim
        params = self._params(node)
        m = _PREFIX.match(prim.textbook) if s.prefix and prim.arity == 1 else None
        if m and s.latex and m.group(1) not in LATEX_OPERATORS:
            m = None  # \sqrt{x}: the record's template
        if m:  # textbook prefix function: sin x, sin(x + y)
            word = m.group(1)
            a = args[0]
            if s.latex:
                word = "\\" + word
            elif not word.isalpha():  # a sign (√) takes no space
                simple = a.prec >= ATOM and a.kind in ("atom", "group") and a.positive is None
                return Piece(word + (a.text if simple else self._paren(a).text), APPLY, "func")
            if a.prec >= ATOM and a.kind in ("atom", "group", "frac") and a.positive is None:
                return Piece(f"{word} {a.text}", APPLY, "func")
            p = self._paren(a)
            return Piece(word + p.text, ATOM, "group")
        if not s.latex:
            template = prim.fmt if fallback else (prim.textbook or prim.fmt)
            texts = [a.text for a in args]
            if prim.precedence < ATOM:
                texts = [self._operand(node, i, a).text for i, a in enumerate(args)]
            return Piece(self._fill(template, texts, params, prim), prim.precedence,
                         "infix" if prim.precedence < ATOM else "group")
        template = "" if fallback else prim.latex
        if not template:
            template = (_operatorname(prim.name) + r"\left("
                        + ", ".join(f"{{{i}}}" for i in range(prim.arity)) + r"\right)")
        places = template_places(template, prim.arity)
        texts = []
        wrapped_last = False
        for i, (a, place) in enumerate(zip(args, places)):
            if place == "grouped":
                texts.append(a.text)
                continue
            if place.startswith("base"):
                t = self._paren(a).text if (a.kind not in ("atom", "group")
                                           or a.positive is not None) else a.text
                texts.append(self._brace_base(t, place[-1]))
                continue
            if prim.precedence < ATOM:
                p = self._operand(node, i, a)
            elif a.kind in ("atom", "group", "frac") and a.positive is None:
                p = a
            else:
                p = self._paren(a)
            wrapped_last = wrapped_last or (i == prim.arity - 1 and p is not a)
            texts.append(p.text)
        text = self._fill(template, texts, params, prim)
        if prim.precedence < ATOM:
            kind = "infix"
            if places and places[-1] != "grouped" and args[-1].kind in ("func", "open") \
                    and not wrapped_last:
                kind = "open"
            return Piece(text, prim.precedence, kind)
        if places and places[-1] == "last":
            return Piece(text, APPLY, "func")
        return Piece(text, ATOM, "group")

    @staticmethod
    def _fill(template: str, texts: list[str], params: dict, prim) -> str:
        try:
            return template.format(*texts, **params)
        except (IndexError, KeyError, ValueError):  # a template naming unknown fields
            return f"{prim.name}({', '.join(texts)})"

    # -- latex simplification ------------------------------------------------------

    def _canon(self, node: Node) -> Node:
        """The node ``node`` displays as: through ``x + 0``/``x - 0`` (the signed-zero
        guard), ``x ^ 1`` and ops whose LaTeX is their argument (``reshape``), so that
        equal factors meet (``\frac{1}{x_{1}^{2}}``, not ``\frac{1}{x_{1} x_{1}}``)."""
        while node not in self.names and node.args:
            name = node.prim.name
            nxt = None
            if name in ("add", "sub"):
                for i in ((1, 0) if name == "add" else (1,)):
                    z = node.args[i]
                    if z.is_const and z.value == 0.0 and z not in self.names \
                            and node.args[1 - i].shape == node.shape:
                        nxt = node.args[1 - i]
                        break
            elif name == "pow":
                e = node.args[1]
                if e.is_const and e.value == 1.0 and node.args[0].shape == node.shape:
                    nxt = node.args[0]
            elif node.prim.latex == "{0}" and node.prim.arity == 1 and (
                    node.shape == node.args[0].shape or self._ones(node) is None):
                nxt = node.args[0]
            if nxt is None:
                return node
            node = nxt
        return node

    def _ones(self, node: Node) -> float | None:
        """``c`` when ``node`` is a constant ``c`` reshaped or broadcast (ops whose
        LaTeX is their argument) to an array, else None."""
        first = node
        while node not in self.names and node.args and node.prim.arity == 1 \
                and node.prim.latex == "{0}":
            node = node.args[0]
        if node is first or node in self.names or not node.is_const or node.shape:
            return None
        return node.value

    def _const_value(self, node: Node) -> float | None:
        """The value of a scalar constant, or of a constant array (:meth:`_ones`)."""
        node = self._canon(node)
        if node in self.names:
            return None
        return node.value if node.is_const else self._ones(node)

    def _simplified(self, node: Node, args: list[Piece]) -> Piece | None:
        name = node.prim.name
        target = self._canon(node)
        if target is not node:
            return self.done[target]
        c = self._ones(node)
        if c is not None and node.shape:
            # a constant array: c·1 (1 the all-ones array)
            if c == 1.0:
                return Piece(r"\mathbf{1}", ATOM, "atom")
            text = latex_number(abs(c)) + r" \mathbf{1}"
            return (Piece("-" + text, NEG, "infix", text) if c < 0
                    else Piece(text, MUL, "infix"))
        if name in ("add", "sub"):
            b = args[1]
            if b.positive is not None and b.prec >= MUL:
                # a + (-b) = a - b, a - (-b) = a + b
                a = self._operand(node, 0, args[0])
                sym = " - " if name == "add" else " + "
                return Piece(a.text + sym + b.positive, node.prim.precedence, "infix")
            return None
        if name == "neg":
            a = self._canon(node.args[0])
            if a in self.names:
                pass
            elif a.prim.name == "neg":
                return self.done[a.args[0]]  # -(-a) = a
            elif a.prim.name in ("add", "sub") and a.shape == node.shape:
                left, right = self.done[a.args[0]], self.done[a.args[1]]
                if left.positive is not None:
                    # -(-l - r) = l + r, -(-l + r) = l - r
                    plus = a.prim.name == "sub"
                    if right.positive is not None:
                        plus, right = not plus, Piece(right.positive, MUL)
                    elif right.prec <= ADD:
                        right = self._paren(right)
                    return Piece(left.positive + (" + " if plus else " - ") + right.text,
                                 ADD, "infix")
        if name == "mul":
            for i in (0, 1):
                if self._const_value(node.args[i]) == 1.0 \
                        and node.args[1 - i].shape == node.shape:
                    return args[1 - i]  # x·1 = x (also for 1 ⊙ x, the ones array)
        if name in ("mul", "div", "neg") and not (
                name in ("mul", "div") and all(a.shape for a in node.args)):
            return self._fraction(node)  # None: too many factors, printed as it is
        return None

    def _factor_parts(self, node: Node):
        """``node`` as ``(sign, numerator constants, denominator constants,
        [(factor, power)...])`` over products, quotients and negations with at most one
        array operand each (a factor may be an array); constants are positive
        :class:`~fractions.Fraction` values. More than :data:`MAX_FACTORS` factors: the
        node is one factor."""
        node = self._canon(node)
        if node in self._factors:
            return self._factors[node]
        out = None
        name = node.prim.name
        if node in self.names or not node.args:
            if node.is_const and node not in self.names and not node.shape \
                    and math.isfinite(node.value) and node.value != 0:
                v = Fraction(node.value)
                out = (-1 if v < 0 else 1, [abs(v)], [], [])
        elif name == "neg":
            inner = self._factor_parts(node.args[0])
            out = (-inner[0],) + inner[1:]
        elif name in ("mul", "div") and not all(a.shape for a in node.args):
            pa = self._factor_parts(node.args[0])
            pb = self._factor_parts(node.args[1])
            if len(pa[3]) + len(pb[3]) + len(pa[1]) + len(pb[1]) <= MAX_FACTORS:
                if name == "mul":
                    out = (pa[0] * pb[0], pa[1] + pb[1], pa[2] + pb[2], pa[3] + pb[3])
                else:
                    out = (pa[0] * pb[0], pa[1] + pb[2], pa[2] + pb[1],
                           pa[3] + [(f, -k) for f, k in pb[3]])
        if out is None:
            out = (1, [], [], [(node, 1)])
        self._factors[node] = out
        return out

    @staticmethod
    def _fold(values: list[Fraction]) -> list[Fraction]:
        """Multiply constants while the product is exactly a float (``100·2 = 200``;
        ``0.1·3`` stays two numbers); ones drop."""
        out: list[Fraction] = []
        for v in values:
            if v == 1:
                continue
            if out and float(out[-1] * v) == out[-1] * v:
                out[-1] *= v
            else:
                out.append(v)
        return [v for v in out if v != 1]

    def _fraction(self, node: Node) -> Piece | None:
        sign, cnum, cden, factors = self._factor_parts(node)
        if any(f not in self.done for f, _ in factors):
            return None  # the node itself: more than MAX_FACTORS factors
        cnum, cden = self._fold(cnum), self._fold(cden)
        if len(cnum) == 1 and len(cden) == 1 and float(cnum[0] / cden[0]) == cnum[0] / cden[0]:
            cnum, cden = [cnum[0] / cden[0]], []  # 0.5/2 = 0.25, but x/3 stays
        # identical factors collect into powers, in order of first appearance
        powers: dict[Node, int] = {}
        for f, k in factors:
            powers[f] = powers.get(f, 0) + k
        num = [(f, k) for f, k in powers.items() if k > 0]
        den = [(f, -k) for f, k in powers.items() if k < 0]

        def product(items, coefs):
            parts = [latex_number(float(c)) for c in coefs]
            coef_text = bool(parts)
            for j, (f, k) in enumerate(items):
                p = self.done[f]
                if k != 1:
                    base = (self._paren(p) if p.kind not in ("atom", "group")
                            or p.prec <= POW or p.positive is not None else p)
                    parts.append(f"{self._brace_base(base.text, '^')}^{{{k}}}")
                    continue
                alone = len(items) == 1 and not coef_text
                if not alone and (p.prec < MUL or p.positive is not None
                                  or p.kind == "hadamard"
                                  or (p.kind in ("func", "open") and j < len(items) - 1)):
                    p = self._paren(p)
                parts.append(p.text)
            if not parts:
                return "1", True
            text = parts[0]
            for t in parts[1:]:
                text += (r" \cdot " if t[:1].isdigit() else " ") + t
            return text, len(parts) == 1

        num_t, num_single = product(num, cnum)
        if den or cden:
            den_t, _ = product(den, cden)
            body = Piece(rf"\frac{{{num_t}}}{{{den_t}}}", ATOM, "frac")
        elif num_single and len(num) == 1 and not cnum:
            body = self.done[num[0][0]] if num[0][1] == 1 else Piece(num_t, POW, "infix")
        elif num_single:
            body = Piece(num_t, ATOM, "atom")
        else:
            last = self.done[num[-1][0]] if num else None
            kind = "open" if last is not None and last.kind in ("func", "open") and \
                num[-1][1] == 1 else "infix"
            body = Piece(num_t, MUL, kind)
        if sign < 0:
            inner = body if body.prec >= MUL and body.positive is None else self._paren(body)
            return Piece("-" + inner.text, NEG, "infix", inner.text)
        return body


# ---------------------------------------------------------------------------------
# entry points


def to_text(node_or_graph, style: Style | str = "source", *,
            names: Mapping[Node, str] | None = None) -> str:
    """One expression in a style.

    Args:
        node_or_graph: a :class:`~graphc.ir.Node`, or a graph (its first output).
        style: ``"source"`` (parses back), ``"textbook"`` (Unicode), ``"latex"``
            (simplified LaTeX) or ``"textbook_latex"``, or a :class:`Style`.
        names: nodes to print by the given text.

    Returns:
        The expression; shared subexpressions are repeated.

    Raises:
        KeyError: an unknown style name.
    """
    node = node_or_graph
    if not isinstance(node, Node):
        node = node_or_graph.outputs[0]
    return Printer(style, names).text(node)


__all__ = ["ATOM", "LATEX", "Piece", "Printer", "SOURCE", "STYLES", "Style", "TEXTBOOK",
           "TEXTBOOK_LATEX", "format_const", "latex_name", "latex_number",
           "template_places", "textbook_name", "textbook_number", "to_text"]
