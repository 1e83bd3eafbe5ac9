"""The expression parser: source text to graph, without ever evaluating the text.

Grammar (informally)::

    program    := statement ((';' | newline) statement)*
    statement  := NAME '=' expr | NAME (',' NAME)+ '=' expr (',' expr)+ | expr | loop
    loop       := 'for' NAME 'in' 'range' '(' bound [',' bound] ')' ':' body
    bound      := ['-'] INT | NAME          (a name assigned an integer literal)
    body       := statement (';' statement)*              (on the line of the 'for')
                | newline, then lines indented deeper than the line of 'for'
    expr       := comparison of sums of products of unary of powers of atoms
    atom       := NUMBER | NAME | NAME '(' args ')' | '(' expr ')' | atom '[' index ']'
                | array      array := '[' (['-'] NUMBER | array) (',' ...)* [','] ']'
    args       := arg (',' arg)*      arg := [NAME '='] (expr | literal)
    literal    := '(' [item (',' item)* [',']] ')' | True | False | None
    index      := entry (',' entry)*  entry := INT | [INT] ':' [INT] [':' [INT]]

Operators, loosest first: comparisons ``< <= > >= == !=`` (1.0 where true, else 0.0;
they chain as in Python: ``a < b < c`` means ``(a < b) and (b < c)``, built as the
product of the two 0/1 comparisons with ``b`` computed once, while ``(a < b) < c``
compares the 0/1 value of ``a < b`` with ``c``); ``+ -``; ``* / % @``
(``@`` is the matrix product, ``%`` the remainder with the divisor's sign, as in
Python); unary ``- +``; ``^`` and ``**`` (power,
right-associative, so ``-x^2 = -(x^2)`` and ``x^-2 = x^(-2)``); subscripts ``x[1:]``,
``x[:-1]``, ``x[0, 1:]`` bind tightest (integer literals only). An array literal
``[[1, 2], [3, -4.5]]`` (rectangular nested lists of signed numbers or ``pi``/``e``...)
is an array constant (:func:`graphc.ir.numpy_dispatch.array_constant`). Keyword arguments
``axis=``, ``keepdims=`` and shapes take literals: integers, tuples of integers and
dimension names (``(B, 64)``), ``True``/``False``/``None``. ``max(x)``/``min(x)``
with one argument (or ``axis=``) are reductions; with two or more, elementwise. Numbers may have exponents (``1e-5``); ``pi``, ``e``, ``inf`` and
``nan`` are constants unless declared as inputs or assigned by a statement (the
textbook program ``... e = cos(c); f = d + e`` uses ``e`` as a name). ``#`` starts a comment.

``a, b = e1, e2`` assigns simultaneously (both right-hand sides are computed first).
A loop ``for i in range(N): x, v = x + h*v, v - h*sin(x)`` (or ``range(start, stop)``,
the body on the same line or on the following, deeper-indented lines) is one ``scan``
node (:mod:`graphc.ir.control_flow`) whatever N is: its carried state is every variable
the body assigns that has a value before the loop (an assigned name or an input); other
names assigned in the body are local to it (an error after the loop), and ``i`` counts
``start, start+1, ...`` as a float. Trip counts are static: integer literals or names
assigned one. Loops nest on separate lines; a program that ends with a loop outputs the
loop's last assigned carried variable (docs/loops.md, "In parse programs").

The parser is an operator-precedence (shunting-yard) parser with explicit stacks, so
nesting depth is bounded only by memory, not by Python's recursion limit. It builds
graph nodes directly through :func:`graphc.ir.apply`; nothing in the text is ever
passed to ``eval`` or ``exec``. Errors are :class:`graphc.ParseError` with the line,
column and a caret under the offending character.
"""

from __future__ import annotations

import builtins
import difflib
import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

from ..ir import Graph, GraphcError, Node, ParseError, ShapeError, apply, array_ops, ops
from ..ir.primitive import function_names, lookup_function

_NUMBER = re.compile(r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = ("**", "<=", ">=", "==", "!=", "+", "-", "*", "/", "%", "^", "@", "<", ">")
_BINARY = {  # symbol: (precedence, right-associative, builder)
    "<": (1, False, ops.lt), "<=": (1, False, ops.le), ">": (1, False, ops.gt),
    ">=": (1, False, ops.ge), "==": (1, False, ops.eq), "!=": (1, False, ops.ne),
    "+": (2, False, ops.add), "-": (2, False, ops.sub),
    "*": (3, False, ops.mul), "/": (3, False, ops.div), "@": (3, False, array_ops.matmul),
    "%": (3, False, ops.mod),  # Python's: as tight as * and /, sign of the divisor
    "^": (5, True, ops.pow), "**": (5, True, ops.pow),
}
_UNARY_PRECEDENCE = 4
_COMPARISONS = frozenset(("<", "<=", ">", ">=", "==", "!="))


class _Chain(tuple):
    """An operand-stack entry ``(node, position)`` holding an unparenthesized comparison;
    ``right`` is its right operand, on which a following comparison chains (Python's
    ``a < b < c``, meaning ``(a < b) and (b < c)``)."""

    right: Node


_ALLOWED = ("numbers, names of inputs and functions, operators + - * / % @ ^ ** "
            "< <= > >= == !=, parentheses, subscripts x[1:], ',' between arguments, "
            "'=' in statements and keyword arguments, ';' or newlines between statements")
PYTHON_BUILTINS = frozenset(n for n in dir(builtins) if not n.startswith("_")) | {
    "__import__", "__builtins__", "__class__", "__dict__"}
"""Names of Python builtins (``eval``, ``open``, ``print``...): never variable names, so a
pasted Python snippet fails loudly instead of becoming an input called ``open``."""
_SHAPE_HINT = ("arguments whose shapes combine (inputs are scalars unless their shapes "
               "are declared, as in parse(src, x=(3, 4), W=('H', 'D')))")
MAX_SOURCE_LENGTH = 50_000_000
"""Longest source text accepted (characters); longer input raises ParseError."""


@dataclass
class Token:
    kind: str   # "num", "name", "op", "(", ")", ",", "=", "sep", "end"
    text: str
    pos: int
    value: float = 0.0


_TOKEN = re.compile(r"""
    (?P<ws>[ \t\r\f\v]+|\#[^\n]*)
  | (?P<num>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>\*\*|<=|>=|==|!=|[-+*/%^@<>])
  | (?P<sep>[;\n])
  | (?P<punct>[(),=\[\]:])
""", re.VERBOSE)


def tokenize(source: str) -> list[Token]:
    """Split ``source`` into tokens with one compiled regular expression (linear time,
    no recursion). Newlines inside parentheses are whitespace; outside they separate
    statements like ``;``.

    Raises:
        ParseError: an unexpected character, with its position.
    """
    tokens: list[Token] = []
    append = tokens.append
    depth = 0
    n = len(source)
    pos = 0
    match = _TOKEN.match
    while pos < n:
        m = match(source, pos)
        if m is None:
            _bad_character(source, pos)
        kind = m.lastgroup
        text = m.group()
        if kind == "num":
            end = m.end()
            if end < n and (source[end].isalpha() or source[end] == "_") and \
                    source[end].isascii():
                raise ParseError(f"number {text!r} is followed by {source[end]!r}", source,
                                 end, "an operator (write 2*x, not 2x)")
            append(Token("num", text, pos, float(text)))
        elif kind == "name" or kind == "op":
            append(Token(kind, text, pos))
        elif kind == "punct":
            if text == "(" or text == "[":
                depth += 1
            elif text == ")" or text == "]":
                depth = max(0, depth - 1)
            append(Token(text, text, pos))
        elif kind == "sep":
            if text == ";":
                if depth > 0:
                    raise ParseError("';' inside parentheses", source, pos,
                                     "a closing ')' first")
                append(Token("sep", text, pos))
            elif depth == 0:
                append(Token("sep", text, pos))
        pos = m.end()
    tokens.append(Token("end", "", n))
    return tokens


def _bad_character(source: str, i: int):
    ch = source[i]
    shown = repr(ch) if ch.isprintable() else f"U+{ord(ch):04X}"
    hint = ""
    if not ch.isascii():
        hint = f" (U+{ord(ch):04X}; graphc reads ASCII only)"
    elif ch in "{}":
        hint = " (dicts and sets are not expressions here)"
    elif ch == ".":
        hint = " (attribute access is not allowed)"
    elif ch in "'\"":
        hint = " (strings are not allowed)"
    raise ParseError(f"unexpected character {shown}{hint}", source, i, _ALLOWED)


class _Static:
    """A literal argument (tuple, True, False, None) on the operand stack: a static
    parameter such as ``axis=(0, 1)``, never a graph value."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


_STATIC_NAMES = {"True": True, "False": False, "None": None}


@dataclass
class _Call:
    name: str
    pos: int
    height: int                     # operand-stack height when the current arg began
    args: list = field(default_factory=list)
    kwargs: dict = field(default_factory=dict)
    keyword: str | None = None      # keyword of the argument being parsed
    keyword_pos: int = 0


class _Parser:
    def __init__(self, source: str, inputs: Sequence[str] | None, dtype: str,
                 shapes: Mapping[str, tuple]):
        self.source = source
        self.dtype = dtype
        self.shapes = dict(shapes)
        self.declared = list(inputs) if inputs is not None else None
        self.input_order: list[str] = list(inputs) if inputs is not None else []
        self.env: dict[str, Node] = {}
        self.labels: dict[Node, str] = {}
        self._variables: dict[str, Node] = {}
        self._unassigned: dict[str, int] = {}   # loop-body names not assigned yet
        self._loop_locals: dict[str, int] = {}  # names assigned only inside a loop
        self._loop_vars: set[str] = set()       # loop variables of the loops open now

    # -- errors ------------------------------------------------------------------------
    def error(self, message: str, pos: int, expected: str | None = None):
        raise ParseError(message, self.source, pos, expected)

    # -- names -------------------------------------------------------------------------
    def variable(self, name: str, pos: int) -> Node:
        if name.startswith("__"):
            self.error(f"name {name!r} is not allowed (names may not start with '__')",
                       pos, "a variable name such as x1 or theta")
        if name in self.env:
            return self.env[name]
        if name in self._unassigned:
            self.error(f"{name!r} is used in the loop before it is assigned, and has no "
                       f"value before the loop", pos,
                       f"a value for {name!r} before the loop ({name} = 0.0), which the "
                       f"loop then carries from step to step")
        if name in self._loop_locals:
            self.error(f"{name!r} is assigned only inside a loop (or is a loop variable), "
                       f"so it has no value after it", pos,
                       f"give {name!r} a value before the loop to carry it through the "
                       f"loop")
        cached = self._variables.get(name)
        if cached is not None:
            return cached
        node = self._lookup(name, pos)
        if node.is_input:
            self._variables[name] = node
        return node

    def _lookup(self, name: str, pos: int) -> Node:
        if self.declared is not None:
            if name in self.declared:
                return ops.variable(name, self.dtype, self._shape(name))
        if name in ops.NAMED_CONSTANTS:
            return ops.const(ops.NAMED_CONSTANTS[name], self.dtype)
        if lookup_function(name) is not None:
            self.error(f"{name!r} is a function; call it as {name}(...)", pos,
                       "a variable name")
        _reject_builtin(name, self.source, pos)
        if self.declared is not None:
            close = difflib.get_close_matches(name, self.declared + list(self.env), n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            self.error(f"unknown variable {name!r}{hint}", pos,
                       "one of the inputs " + ", ".join(self.declared)
                       + (" or a name assigned earlier" if self.env else ""))
        if name not in self.input_order:
            self.input_order.append(name)
        return ops.variable(name, self.dtype, self._shape(name))

    def _shape(self, name: str) -> tuple:
        return tuple(self.shapes.get(name, ()))

    # -- expressions ---------------------------------------------------------------------
    def expression(self, tokens: list[Token], k: int,
                   commas: bool = False) -> tuple[Node, int]:
        """Parse one expression starting at token ``k``; returns (node, next index).
        With ``commas``, a ',' outside parentheses ends the expression too (the
        right-hand side of ``x, v = a, b``)."""
        operands: list[tuple[Node, int]] = []   # (node, position)
        operators: list = []                     # ("bin", sym, pos) | ("un", sym, pos)
        #                                          | ("(", pos) | _Call
        expect_operand = True

        def reduce_top():
            top = operators.pop()
            if top[0] == "bin":
                _, sym, pos = top
                (b, _), operands_top_a = operands.pop(), operands.pop()
                a, apos = operands_top_a
                if isinstance(a, _Static) or isinstance(b, _Static):
                    self.error(f"a literal {a.value if isinstance(a, _Static) else b.value!r} "
                               f"cannot be an operand of {sym!r}", pos, "an expression")
                build = _BINARY[sym][2]
                try:
                    if sym in _COMPARISONS and isinstance(operands_top_a, _Chain):
                        # Python's meaning: a < b < c is (a < b) and (b < c), b shared;
                        # 0/1 times 0/1 is the logical and, exactly
                        node = ops.mul(a, build(operands_top_a.right, b))
                    else:
                        node = build(a, b)
                except ShapeError as exc:
                    self.error(str(exc), pos, _SHAPE_HINT)
                if sym in _COMPARISONS:
                    entry = _Chain((node, apos))
                    entry.right = b
                    operands.append(entry)
                else:
                    operands.append((node, apos))
            else:
                _, sym, pos = top
                a, _ = operands.pop()
                if isinstance(a, _Static):
                    self.error(f"a literal {a.value!r} cannot be an operand of {sym!r}", pos,
                               "an expression")
                if sym == "-":
                    if a.is_const:
                        node = ops.const(-a.value, a.dtype, a.shape)
                    else:
                        node = ops.neg(a)
                else:
                    node = a
                operands.append((node, pos))

        def precedence_of(entry) -> int:
            if entry[0] == "bin":
                return _BINARY[entry[1]][0]
            return _UNARY_PRECEDENCE

        def finish_argument(call: _Call, pos: int):
            if len(operands) != call.height + 1:
                self.error("missing argument", pos, "an expression")
            node, _ = operands.pop()
            if call.keyword is not None:
                if call.keyword in call.kwargs:
                    self.error(f"keyword {call.keyword!r} given twice", call.keyword_pos)
                call.kwargs[call.keyword] = (node, call.keyword_pos)
                call.keyword = None
            else:
                if call.kwargs:
                    self.error("positional argument after a keyword argument", pos)
                call.args.append(node)

        while True:
            tok = tokens[k]
            if expect_operand:
                if tok.kind == "num":
                    operands.append((ops.const(tok.value, self.dtype), tok.pos))
                    expect_operand = False
                    k += 1
                elif tok.kind == "name":
                    nxt = tokens[k + 1]
                    if nxt.kind == "(":
                        operators.append(_Call(tok.text, tok.pos, len(operands)))
                        k += 2
                        if tokens[k].kind == ")":
                            self.error(f"{tok.text}() needs arguments", tokens[k].pos,
                                       "an expression")
                        k = self._maybe_keyword(tokens, k, operators[-1])
                        k, expect_operand = self._maybe_literal(tokens, k, operands)
                        continue
                    operands.append((self.variable(tok.text, tok.pos), tok.pos))
                    expect_operand = False
                    k += 1
                elif tok.kind == "(":
                    operators.append(("(", tok.pos))
                    k += 1
                elif tok.kind == "[":  # an array literal: a constant
                    node, k = self._array_literal(tokens, k)
                    operands.append((node, tok.pos))
                    expect_operand = False
                elif tok.kind in ("]", ":"):
                    self.error(f"unexpected {tok.text!r}", tok.pos,
                               "a number, a name, '(' or a unary '-' (subscripts follow a "
                               "value: x[1:])")
                elif tok.kind == "op" and tok.text in "+-":
                    operators.append(("un", tok.text, tok.pos))
                    k += 1
                else:
                    what = "the end of the input" if tok.kind == "end" else repr(tok.text)
                    if tok.kind == "sep":
                        what = "the end of the statement"
                    self.error(f"unexpected {what}", tok.pos,
                               "a number, a name, '(' or a unary '-'")
            else:
                if tok.kind == "op" and tok.text in _BINARY:
                    prec, right, _ = _BINARY[tok.text]
                    while operators and operators[-1].__class__ is tuple and \
                            operators[-1][0] in ("bin", "un"):
                        p = precedence_of(operators[-1])
                        if p > prec or (p == prec and not right):
                            reduce_top()
                        else:
                            break
                    operators.append(("bin", tok.text, tok.pos))
                    expect_operand = True
                    k += 1
                elif tok.kind == "[":
                    node, npos = operands[-1]
                    if isinstance(node, _Static):
                        self.error("a literal cannot be subscripted", tok.pos)
                    text, k = self._subscript(tokens, k)
                    try:
                        operands[-1] = (array_ops.getitem(node, text), npos)
                    except ShapeError as exc:
                        self.error(str(exc), tok.pos, _SHAPE_HINT)
                elif tok.kind in (")", ","):
                    while operators and operators[-1].__class__ is tuple and \
                            operators[-1][0] in ("bin", "un"):
                        reduce_top()
                    if not operators and commas and tok.kind == ",":
                        node, _ = operands.pop()
                        return node, k
                    if not operators:
                        msg = "unmatched ')'" if tok.kind == ")" else \
                            "',' outside a function call"
                        self.error(msg, tok.pos, "an operator or the end of the expression")
                    top = operators[-1]
                    if tok.kind == ")":
                        if isinstance(top, _Call):
                            operators.pop()
                            finish_argument(top, tok.pos)
                            operands.append((self.call(top), top.pos))
                        else:
                            operators.pop()  # "("
                            # (a < b) < c compares the 0/1 value: no longer a chain
                            operands[-1] = tuple(operands[-1])
                        k += 1
                    else:
                        if not isinstance(top, _Call):
                            self.error("',' inside parentheses that are not a function "
                                       "call", tok.pos, "an operator or ')'")
                        finish_argument(top, tok.pos)
                        top.height = len(operands)
                        k = self._maybe_keyword(tokens, k + 1, top)
                        k, expect_operand = self._maybe_literal(tokens, k, operands)
                elif tok.kind in ("sep", "end"):
                    while operators:
                        top = operators[-1]
                        if isinstance(top, _Call):
                            self.error(f"'(' of {top.name}( is never closed", top.pos + len(top.name),
                                       "')'")
                        if top[0] == "(":
                            self.error("'(' is never closed", top[1], "')'")
                        reduce_top()
                    node, _ = operands.pop()
                    return node, k
                elif tok.kind == "=":
                    self.error("'=' is only allowed after a name at the start of a "
                               "statement, or for a keyword argument", tok.pos,
                               "an operator ('==' to compare)")
                else:
                    self.error(f"unexpected {tok.text!r} after a complete operand", tok.pos,
                               "an operator such as + - * / ^ (write 2*x, not 2 x), "
                               "')' or the end of the statement")

    def _maybe_literal(self, tokens: list[Token], k: int, operands: list) -> tuple[int, bool]:
        """At the start of an argument: push a literal (tuple, True, False, None) that
        forms the whole argument as a :class:`_Static`; returns (next index, whether an
        operand is still expected)."""
        tok = tokens[k]
        if tok.kind == "name" and tok.text in _STATIC_NAMES and tokens[k + 1].kind in (",", ")"):
            operands.append((_Static(_STATIC_NAMES[tok.text]), tok.pos))
            return k + 1, False
        if tok.kind != "(":
            return k, True
        items: list = []
        j = k + 1
        commas = 0
        while True:
            t = tokens[j]
            if t.kind == ")" and (commas or not items):
                break
            sign = 1
            if t.kind == "op" and t.text == "-" and tokens[j + 1].kind == "num":
                sign, j, t = -1, j + 1, tokens[j + 1]
            if t.kind == "num" and t.text.isdigit():
                items.append(sign * int(t.text))
            elif t.kind == "name" and sign == 1 and t.text not in _STATIC_NAMES:
                items.append(t.text)
            else:
                return k, True
            j += 1
            if tokens[j].kind == ",":
                commas += 1
                j += 1
            elif tokens[j].kind != ")":
                return k, True
        if tokens[j + 1].kind not in (",", ")"):
            return k, True
        operands.append((_Static(tuple(items)), tok.pos))
        return j + 1, False

    def _array_literal(self, tokens: list[Token], k: int) -> tuple[Node, int]:
        """An array literal ``[[1, 2], [3, -4.5]]`` at ``tokens[k]`` (a ``[``): nested
        lists of signed numbers, rectangular, as a constant of the parser's dtype
        (:func:`graphc.ir.numpy_dispatch.array_constant`). Returns (node, next index)."""
        from ..ir.numpy_dispatch import array_constant
        start = tokens[k].pos
        stack: list[list] = []
        root: list = []
        expect_item = True
        while True:
            tok = tokens[k]
            if expect_item and tok.kind == "[":
                stack.append([])
            elif expect_item and (tok.kind in ("num", "name") or (
                    tok.kind == "op" and tok.text in "+-" and
                    tokens[k + 1].kind in ("num", "name"))):
                sign = 1.0
                if tok.kind == "op":
                    sign = -1.0 if tok.text == "-" else 1.0
                    k += 1
                    tok = tokens[k]
                if tok.kind == "num":
                    value = tok.value
                else:
                    node = None if tokens[k + 1].kind == "(" else \
                        self.variable(tok.text, tok.pos)  # pi, e, inf, nan
                    if node is None or not node.is_const or node.shape:
                        self.error(f"{tok.text!r} in an array literal is not a number: "
                                   f"an array literal holds numbers only (build arrays "
                                   f"of graph values with concatenate/stack)", tok.pos,
                                   "a number")
                    value = node.value
                stack[-1].append(sign * value)
                expect_item = False
            elif tok.kind == "]" and stack[-1]:
                done = stack.pop()
                if not stack:
                    root = done
                    k += 1
                    break
                stack[-1].append(done)
                expect_item = False
            elif tok.kind == "," and not expect_item:
                expect_item = True
            elif tok.kind == "]":
                self.error("an empty array literal", tok.pos, "a number")
            else:
                what = "the end of the input" if tok.kind == "end" else repr(tok.text)
                self.error(f"unexpected {what} in an array literal", tok.pos,
                           "a number, a signed number, a named constant or '['"
                           if expect_item else "',' or ']'")
            k += 1
        try:
            import numpy as _np
            arr = _np.array(root, dtype=float)
        except ValueError:
            self.error("an array literal must be rectangular (every row of one length, "
                       "numbers at one depth)", start, "a rectangular array")
        try:
            return array_constant(arr, self.dtype, "an array literal"), k
        except GraphcError as exc:
            self.error(str(exc), start)

    def _subscript(self, tokens: list[Token], k: int) -> tuple[str, int]:
        """Read ``[ index ]`` starting at the ``[`` token ``k``; returns the index text
        and the index after ``]``. Bounds are integer literals (optionally negative)."""
        open_pos = tokens[k].pos
        k += 1
        entries: list[list[str]] = []
        entry = [""]
        while True:
            tok = tokens[k]
            if tok.kind == "]":
                entries.append(entry)
                k += 1
                break
            if tok.kind == ":":
                if len(entry) == 3:
                    self.error("a slice has at most two ':'", tok.pos, "',' or ']'")
                entry.append("")
            elif tok.kind == ",":
                entries.append(entry)
                entry = [""]
            elif tok.kind == "num" or (tok.kind == "op" and tok.text in "+-"):
                sign = ""
                if tok.kind == "op":
                    sign = "-" if tok.text == "-" else ""
                    k += 1
                    tok = tokens[k]
                    if tok.kind != "num":
                        self.error("expected an integer after the sign", tok.pos,
                                   "an integer literal")
                if entry[-1]:
                    self.error("two numbers in one slice bound", tok.pos, "':', ',' or ']'")
                if not tok.text.isdigit():
                    self.error(f"index {tok.text!r} is not an integer", tok.pos,
                               "an integer literal such as 1 or -1")
                entry[-1] = sign + tok.text
            elif tok.kind in ("end", "sep"):
                self.error("'[' is never closed", open_pos, "']'")
            else:
                what = repr(tok.text)
                self.error(f"unexpected {what} in a subscript", tok.pos,
                           "integer literals, ':' and ',' (x[1:], x[:-1], x[0, 2:])")
            k += 1
        parts = []
        for e in entries:
            if len(e) == 1:
                if not e[0]:
                    self.error("empty index", open_pos, "an integer or a slice such as 1:")
                parts.append(e[0])
            else:
                parts.append(":".join(e))
        return ", ".join(parts), k

    def _maybe_keyword(self, tokens: list[Token], k: int, call: _Call) -> int:
        if tokens[k].kind == "name" and tokens[k + 1].kind == "=":
            call.keyword = tokens[k].text
            call.keyword_pos = tokens[k].pos
            return k + 2
        return k

    def call(self, call: _Call) -> Node:
        prim = lookup_function(call.name)
        if call.name.startswith("__"):
            prim = None
        if call.name in array_ops.FUNCTIONS:
            return self._composite(call)
        if prim is None or prim.arity == 0:
            names = sorted(function_names() + list(array_ops.FUNCTIONS))
            close = difflib.get_close_matches(call.name, names, n=4, cutoff=0.6)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            self.error(f"unknown function {call.name!r}{hint}", call.pos,
                       "one of: " + ", ".join(names))
        args = call.args
        if prim.name in ("minimum", "maximum") and (len(args) == 1 or call.kwargs):
            # max(x) / max(x, axis=0): the reduction; max(x, y): elementwise
            prim = array_ops.reduce_max_p if prim.name == "maximum" else array_ops.reduce_min_p
        if prim.name in ("minimum", "maximum") and len(args) > 2 and not call.kwargs:
            node = args[0]
            for a in args[1:]:
                node = apply(prim, node, a)
            return node
        if prim is array_ops.concatenate_p and len(args) > 2:
            arrays = [a for a in args if isinstance(a, Node) and not a.is_const]
            if len(arrays) > 2 and all(isinstance(a, Node) and not a.is_const
                                       for a in args[:len(arrays)]):
                kw = {k: self._constant_param(call, k, v, p) for k, (v, p) in call.kwargs.items()}
                for extra, pname in zip(args[len(arrays):], prim.param_names):
                    kw[pname] = self._constant_param(call, pname, extra, call.pos)
                try:
                    return array_ops.concatenate(*arrays, **kw)
                except (ShapeError, TypeError) as exc:
                    self.error(f"{call.name}(): {exc}", call.pos)
        for a in args[:prim.arity]:
            if isinstance(a, _Static):
                self.error(f"{call.name}(): the literal {a.value!r} is not an array value",
                           call.pos, "an expression")
        n_params = len(prim.param_names)
        if not (prim.arity <= len(args) <= prim.arity + n_params):
            want = str(prim.arity) if not n_params else \
                f"{prim.arity} to {prim.arity + n_params}"
            self.error(f"{call.name}() takes {want} argument(s), got {len(args)}", call.pos,
                       f"{call.name}({', '.join(['x'] * prim.arity + list(prim.param_names))})")
        params = {}
        for pname, node in zip(prim.param_names, args[prim.arity:]):
            params[pname] = self._constant_param(call, pname, node, call.pos)
        for kw, (node, pos) in call.kwargs.items():
            if kw not in prim.param_names:
                self.error(f"{call.name}() has no parameter {kw!r}", pos,
                           ", ".join(prim.param_names) or "no keyword arguments")
            if kw in params:
                self.error(f"{call.name}() got {kw!r} twice", pos)
            params[kw] = self._constant_param(call, kw, node, pos)
        try:
            return apply(prim, *args[:prim.arity], **params)
        except ShapeError as exc:
            self.error(str(exc), call.pos, _SHAPE_HINT)

    def _constant_param(self, call, pname, node, pos):
        if isinstance(node, _Static):
            return node.value
        if not node.is_const:
            self.error(f"{call.name}(): parameter {pname!r} must be a number", pos,
                       "a numeric literal, a tuple such as (0, 1), True, False or None")
        return node.value

    def _composite(self, call: _Call) -> Node:
        """A function of :data:`graphc.ir.array_ops.FUNCTIONS` (``stack``): positional
        arguments are arrays, keyword arguments literals."""
        fn = array_ops.FUNCTIONS[call.name]
        for a in call.args:
            if isinstance(a, _Static):
                self.error(f"{call.name}(): the literal {a.value!r} is not an array value",
                           call.pos, "an expression")
        kw = {k: self._constant_param(call, k, v, p) for k, (v, p) in call.kwargs.items()}
        try:
            return fn(*call.args, **kw)
        except (ShapeError, TypeError) as exc:
            self.error(f"{call.name}(): {exc}", call.pos)

    # -- statements ------------------------------------------------------------------------
    def program(self) -> Graph:
        if len(self.source) > MAX_SOURCE_LENGTH:
            raise ParseError(f"source of {len(self.source)} characters is longer than the "
                             f"limit of {MAX_SOURCE_LENGTH}")
        if "\x00" in self.source:
            self.error("NUL character in the source", self.source.index("\x00"), _ALLOWED)
        tokens = tokenize(self.source)
        last, last_name = self._statements(tokens, 0, len(tokens) - 1, in_loop=False)
        if last is None:
            raise ParseError("empty source: nothing to compute", self.source, 0,
                             "an expression such as 'x1 * sin(x2)'")
        names = self.input_order if self.declared is not None else \
            sorted(self.input_order, key=natural_key)
        inputs = [ops.variable(nm, self.dtype, self._shape(nm)) for nm in names]
        try:
            return Graph(inputs, [last], [last_name], labels=self.labels)
        except GraphcError as exc:  # pragma: no cover - parser keeps inputs consistent
            raise ParseError(str(exc)) from None

    def _statements(self, tokens: list[Token], k: int, end: int,
                    in_loop: bool) -> tuple[Node | None, str]:
        """Parse the statements of ``tokens[k:end]`` (``tokens[end]`` is a separator or
        the end); returns (the last statement's value, its name)."""
        last: Node | None = None
        last_name = "f"
        while k < end:
            if tokens[k].kind == "sep":
                k += 1
                continue
            if _is_loop(tokens, k):
                k, last, last_name = self._loop(tokens, k, end, in_loop)
                continue
            targets: list[tuple[str, int]] = []
            j = k
            while tokens[j].kind == "name" and tokens[j + 1].kind in (",", "="):
                targets.append((tokens[j].text, tokens[j].pos))
                j += 2
                if tokens[j - 1].kind == "=":
                    break
            if targets and tokens[j - 1].kind != "=":
                self.error("a list of names must be followed by '='", tokens[j].pos,
                           "'name, name = expression, expression'")
            for target, tpos in targets:
                self._check_target(target, tpos)
            if targets:
                k = j
            start = tokens[k].pos
            if len(targets) > 1:
                values = []
                for m, (target, _) in enumerate(targets):
                    if m:
                        if tokens[k].kind != ",":
                            self.error(f"{len(targets)} names on the left of '=' but "
                                       f"{m} value(s) on the right", tokens[k].pos,
                                       f"{len(targets)} expressions separated by ','")
                        k += 1
                    node, k = self.expression(tokens, k, commas=True)
                    values.append(node)
                if tokens[k].kind == ",":
                    self.error(f"{len(targets)} names on the left of '=' but more values "
                               f"on the right", tokens[k].pos, "the end of the statement")
            else:
                node, k = self.expression(tokens, k)
                values = [node]
            if tokens[k].kind == "sep":
                k += 1
            if not targets and in_loop:
                self.error("a statement in a loop body must assign a variable", start,
                           "an assignment 'name = expression'")
            if not targets and any(t.kind != "sep" for t in tokens[k:end]):
                self.error("only the last statement may be a bare expression", start,
                           "an assignment 'name = expression'")
            for (target, _), node in zip(targets, values):
                self.env[target] = node
                self._unassigned.pop(target, None)
                if node.args and node not in self.labels:
                    self.labels[node] = target
                last_name = target
            last = values[-1]
        return last, last_name

    def _check_target(self, target: str, tpos: int) -> None:
        if lookup_function(target) is not None:
            self.error(f"cannot assign to the function name {target!r}", tpos,
                       "a variable name")
        if target.startswith("__"):
            self.error(f"name {target!r} is not allowed", tpos, "a variable name")
        _reject_builtin(target, self.source, tpos)
        if target in self._loop_vars:
            self.error(f"the loop variable {target!r} cannot be assigned in its loop",
                       tpos, "another name")

    # -- loops -----------------------------------------------------------------------------
    def _column(self, pos: int) -> int:
        return pos - (self.source.rfind("\n", 0, pos) + 1)

    def _trip_bound(self, tokens: list[Token], k: int) -> tuple[int, int]:
        """One bound of ``range(...)`` at token ``k``: an integer literal (optionally
        negative) or a name bound to one. Returns (value, next index)."""
        tok = tokens[k]
        sign = 1
        if tok.kind == "op" and tok.text == "-" and tokens[k + 1].kind == "num":
            sign, k, tok = -1, k + 1, tokens[k + 1]
        if tok.kind == "num":
            if not tok.text.isdigit():
                self.error(f"the trip count {tok.text!r} is not an integer literal", tok.pos,
                           "an integer literal such as 1000")
            value = sign * int(tok.text)
        elif tok.kind == "name" and sign == 1:
            node = self.env.get(tok.text)
            if node is None:
                what = ("an input, known only when the graph runs" if tok.text not in
                        self._loop_locals else "assigned only inside an earlier loop")
                self.error(f"the trip count must be static, but {tok.text!r} is {what}",
                           tok.pos, f"an integer literal, or a name assigned an integer "
                           f"literal before the loop ({tok.text} = 100)")
            if not (node.is_const and node.shape == () and float(node.value).is_integer()):
                self.error(f"the trip count must be static, but {tok.text!r} is computed "
                           f"by the program (a graph value)" if not node.is_const else
                           f"the trip count {tok.text!r} = {node.value!r} is not an integer",
                           tok.pos, f"an integer literal, or a name assigned an integer "
                           f"literal before the loop ({tok.text} = 100)")
            value = int(node.value)
        else:
            self.error("the trip count must be an integer literal or a name bound to one",
                       tok.pos, "range(N) with N such as 1000 or a name assigned 1000")
        k += 1
        if tokens[k].kind not in (",", ")"):
            self.error("the trip count must be an integer literal or a name bound to one, "
                       "not an expression", tokens[k].pos, "',' or ')'")
        return value, k

    def _loop_header(self, tokens: list[Token], k: int) -> tuple[int, int, int]:
        """``for NAME in range(...):`` at token ``k``; returns (lower, upper, index of
        the ':')."""
        k += 3
        tok = tokens[k]
        if not (tok.kind == "name" and tok.text == "range" and tokens[k + 1].kind == "("):
            self.error("a loop runs over range(...)", tok.pos,
                       "range(N) with an integer N, as in 'for i in range(100):'")
        k += 2
        bounds, starts = [], []
        while True:
            starts.append(tokens[k].pos)
            value, k = self._trip_bound(tokens, k)
            bounds.append(value)
            if tokens[k].kind == ")":
                k += 1
                break
            k += 1  # ','
        if len(bounds) > 2:
            self.error("range() with a step is not supported", starts[2],
                       "range(N) or range(start, stop)")
        lo, hi = (0, bounds[0]) if len(bounds) == 1 else bounds
        if tokens[k].kind != ":":
            self.error("expected ':' after range(...)", tokens[k].pos, "':'")
        return lo, hi, k

    def _loop_extent(self, tokens: list[Token], for_k: int, colon: int, end: int,
                     in_loop: bool) -> tuple[int, int]:
        """The body of the loop whose ``for`` is token ``for_k``: (first token, index
        after the last). One line (``for ...: a = ...; b = ...``) or the following
        lines indented deeper than the line of the ``for``."""
        b = colon + 1
        if not (tokens[b].kind == "sep" and tokens[b].text == "\n"):
            if tokens[b].kind in ("sep", "end") or b >= end:
                self.error("the loop body is empty", tokens[colon].pos,
                           "statements after ':'")
            j = b
            while j < end and not (tokens[j].kind == "sep" and tokens[j].text == "\n"):
                if _is_loop(tokens, j) and (tokens[j - 1].kind in ("sep", ":")):
                    self.error("a loop inside a one-line loop body; write the loops on "
                               "separate lines, each body indented under its 'for'",
                               tokens[j].pos, "a newline after ':'")
                j += 1
            return b, j
        while b < end and tokens[b].kind == "sep":
            b += 1
        # the indentation of the line of the 'for' (which may follow 'x = 1;')
        start = self.source.rfind("\n", 0, tokens[for_k].pos) + 1
        line = self.source[start:tokens[for_k].pos]
        indent = len(line) - len(line.lstrip(" \t"))
        if b >= end or self._column(tokens[b].pos) <= indent:
            self.error("the loop body is empty: indent its lines under 'for'",
                       tokens[b].pos if b < len(tokens) else tokens[colon].pos,
                       "statements indented deeper than the line of 'for'")
        j, line_start = b, False
        while j < end:
            t = tokens[j]
            if t.kind == "sep":
                line_start = line_start or t.text == "\n"
            else:
                if line_start and self._column(t.pos) <= indent:
                    break
                line_start = False
            j += 1
        return b, j

    def _loop(self, tokens: list[Token], k: int, end: int,
              in_loop: bool) -> tuple[int, Node | None, str]:
        """A ``for NAME in range(...):`` loop at token ``k`` inside ``tokens[:end]``,
        built as one ``scan`` node over the carried variables; returns (index after the
        body, the value of the loop's last carried assignment, its name)."""
        from ..ir import control_flow as cf
        from ..ir.graph import postorder
        from . import control
        for_tok, var_tok = tokens[k], tokens[k + 1]
        var = var_tok.text
        self._check_target(var, var_tok.pos)
        if var in self.env or var in self._variables or \
                (self.declared is not None and var in self.declared):
            self.error(f"the loop variable {var!r} is already a variable of the program",
                       var_tok.pos, "a new name such as i or step")
        lo, hi, colon = self._loop_header(tokens, k)
        steps = max(0, hi - lo)
        b, body_end = self._loop_extent(tokens, k, colon, end, in_loop)
        # the names the body assigns, in order of first assignment (nested loops too)
        assigned: dict[str, int] = {}
        for j in range(b, body_end):
            if j != b and tokens[j - 1].kind != "sep":
                continue
            m = j
            while tokens[m].kind == "name" and tokens[m + 1].kind in (",", "="):
                assigned.setdefault(tokens[m].text, tokens[m].pos)
                m += 2
                if tokens[m - 1].kind == "=":
                    break
        if var in assigned:
            self.error(f"the loop variable {var!r} cannot be assigned in its loop",
                       assigned[var], "another name")
        carried = [nm for nm in assigned
                   if nm in self.env or nm in self._variables or
                   (self.declared is not None and nm in self.declared)]
        init = [self.variable(nm, assigned[nm]) for nm in carried]
        counter = ops.variable(f"%{var}@loop{for_tok.pos}", self.dtype)
        fresh = [ops.variable(f"%{nm}@loop{for_tok.pos}", n.dtype, n.shape)
                 for nm, n in zip(carried, init)]
        saved_labels = dict(self.labels)
        local = [nm for nm in assigned if nm not in carried]
        for nm in local:
            self._unassigned[nm] = assigned[nm]
            self._loop_locals.pop(nm, None)
        for nm, f in zip(carried, fresh):
            self.env[nm] = f
        self.env[var] = counter
        self._loop_vars.add(var)
        _, body_last = self._statements(tokens, b, body_end, in_loop=True)
        self._loop_vars.discard(var)
        if not carried:
            self.error("the loop changes no variable that exists before it, so it has no "
                       "effect", for_tok.pos, "a loop body assigning a variable given a "
                       "value before the loop (x = 1.0, then for ...: x = ...)")
        outs = [self.env[nm] for nm in carried]
        for nm, o, x in zip(carried, outs, init):
            if o.shape != x.shape or o.dtype != x.dtype:
                self.error(f"the loop changes {nm!r} from {x.dtype}{list(x.shape)} to "
                           f"{o.dtype}{list(o.shape)}; a variable carried through a loop "
                           f"keeps its shape and dtype", assigned[nm],
                           f"a value of {nm!r}'s shape {tuple(x.shape)}")
        self.labels = saved_labels
        for nm in local + [var]:
            self.env.pop(nm, None)
            self._unassigned.pop(nm, None)
            self._loop_locals[nm] = assigned.get(nm, var_tok.pos)
        if steps == 0:
            results = init
        else:
            uses_counter = any(n is counter for n in postorder(outs))
            start = [ops.const(float(lo), self.dtype)] if uses_counter else []
            live = ([counter] if uses_counter else []) + fresh
            nxt = ([ops.add(counter, ops.const(1.0, self.dtype))] if uses_counter else []) \
                + outs
            canon = [ops.variable(f"c{j}", n.dtype, n.shape) for j, n in enumerate(live)]
            try:
                (body,), consts = control._close([nxt], live, canon)
                # name the body's outputs after the variables (names are not part of
                # the body's structural key, so equal loops still intern to one node)
                body = Graph(body.inputs, body.outputs,
                             ([var] if uses_counter else []) + carried)
                results = cf.scan_node(body, start + init, [], consts, steps)
            except ShapeError as exc:
                self.error(f"this loop cannot be built: {exc}", for_tok.pos,
                           "loop variables of concrete shapes")
            results = results[len(start):]
        for nm, r in zip(carried, results):
            self.env[nm] = r
            if r.args and r not in self.labels:
                self.labels[r] = nm
        name = body_last if body_last in carried else carried[-1]
        return body_end, self.env[name], name



def _is_loop(tokens: list[Token], k: int) -> bool:
    """True where ``tokens[k:]`` starts a loop header ``for NAME in``."""
    return (tokens[k].kind == "name" and tokens[k].text == "for" and
            tokens[k + 1].kind == "name" and tokens[k + 2].kind == "name" and
            tokens[k + 2].text == "in")


_PLAIN_NUMBER = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
                           r"|inf|infinity|nan)", re.IGNORECASE)


def parse_number(text: str, what: str = "value") -> float:
    """A number written in ASCII, as the parser reads number literals, with an optional
    sign and ``inf``/``nan``: ``"2"``, ``"-1.5e-3"``, ``".5"``, ``"inf"``. Unlike
    ``float()`` it refuses other scripts' digits (``"١"``, ``"２"``), underscores and
    surrounding text, so a point typed on the command line or read from a corpus means
    what it shows. Never evaluates anything.

    Args:
        text: the number's text (surrounding blanks are ignored).
        what: what the number is, for the message (``"--at x1"``).

    Raises:
        ParseError: ``text`` is not such a number (naming a non-ASCII character).
    """
    if not isinstance(text, str):
        raise ParseError(f"{what}: expected a number, got {type(text).__name__}")
    stripped = text.strip(" \t")
    if _PLAIN_NUMBER.fullmatch(stripped):
        return float(stripped)
    odd = next((ch for ch in stripped if not ch.isascii()), None)
    if odd is not None:
        raise ParseError(f"{what}: {text!r} is not a number: {odd!r} (U+{ord(odd):04X}) is "
                         f"not an ASCII digit; graphc reads numbers in ASCII only",
                         expected="a number such as 2, -1.5 or 1e-3")
    raise ParseError(f"{what}: {text!r} is not a number",
                     expected="a number such as 2, -1.5, 1e-3, inf or nan")


def _reject_builtin(name: str, source: str | None = None, pos: int | None = None):
    if name in PYTHON_BUILTINS:
        raise ParseError(f"{name!r} is a Python builtin, not a graphc name", source, pos,
                         "a variable name that is not a Python builtin (rename it)")


_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple:
    """The natural-sort key of a name: digit runs compare as numbers, the rest as text,
    so ``x1 < x2 < x10 < y`` (plain string order would put ``x10`` before ``x2``).

    Text parts compare by code point (``X`` before ``a``); names whose digit runs are
    equal as numbers (``x1``, ``x01``) are ordered by their plain text last, so the order
    is total. This is the default input order of :func:`parse`.

    Args:
        name: any string.

    Returns:
        A tuple usable as a ``sorted`` key.
    """
    parts = _DIGITS.split(name)
    # split() alternates text (even places) and digit runs (odd places), so the parts at
    # one place always have one type and the tuples compare without TypeError
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts)), name


def parse(source: str, inputs: Iterable[str] | None = None, *, dtype: str = "float64",
          **shapes) -> Graph:
    """Parse an expression or a short program into a :class:`graphc.Graph`.

    Args:
        source: e.g. ``"ln(x1) + x1*x2 - sin(x2)"`` or a program of statements
            separated by ``;`` or newlines (``"u = w1*x + b1; v = sigmoid(u)"``); the
            last statement is the output, named by its target (``f`` for a bare
            expression). Statement targets label their nodes in printouts and diagrams.
            ``for i in range(N): ...`` loops become one ``scan`` node each (see the
            module docstring for the syntax).
        inputs: input names in the order kernels take them. Without it, every name
            that is not assigned, a function or a constant (``pi``, ``e``, ``inf``,
            ``nan``) becomes an input, in natural order of the names (digit runs
            compare as numbers: ``x1 < x2 < x10 < y``; see :func:`natural_key`), not
            in order of appearance. With it, other names are errors, listed names need
            not appear, and the kernels take the inputs in the listed order.
        dtype: ``"float64"`` (default) or ``"float32"`` for every input and constant.
        **shapes: static shapes of array inputs (reserved for array graphs; scalars
            are ``()``).

    Returns:
        A single-output :class:`graphc.Graph`.

    Raises:
        ParseError: with line, column, a caret line and what would be accepted; for
            loops also a trip count that is not static, a name read in a loop body
            before any value, a body-local name used after its loop, a carried
            variable whose shape or dtype the body changes.
    """
    if not isinstance(source, str):
        raise ParseError(f"source must be a string, got {type(source).__name__}")
    if inputs is not None:
        inputs = list(inputs)
        for nm in inputs:
            if not isinstance(nm, str) or not _NAME.fullmatch(nm) or nm.startswith("__"):
                raise ParseError(f"invalid input name {nm!r}", expected="a name such as x1")
            if lookup_function(nm) is not None:
                raise ParseError(f"input name {nm!r} is a function name")
            _reject_builtin(nm)
        if len(set(inputs)) != len(inputs):
            raise ParseError("input names must be distinct")
    return _Parser(source, inputs, dtype, shapes).program()
