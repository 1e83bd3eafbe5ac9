"""A lightweight stand-in for ``llvmlite.ir.IRBuilder`` used by the elementwise lowering.

``llvmlite.ir`` validates and formats every instruction through several layers of
Python objects: for the 263-operation mixture kernel, building the module took about
18 ms and printing it 8 ms, more than everything else in a cold compile except code
generation (25 ms); with this builder, 4 and 3 ms.
:class:`FastBuilder` offers the subset of the ``IRBuilder`` API that
:mod:`.lower` (its :class:`~.lower.Emitter`, the composite lowerings and the loops) uses,
and appends light instruction objects to ordinary ``llvmlite.ir`` basic blocks; the
module, functions, blocks, globals, constants and metadata stay ``llvmlite.ir`` objects,
so ``str(module)`` prints the whole module as before.

Instruction names are registered in the function's own ``NameScope`` in the same order
as ``IRBuilder`` registers them, and each instruction is printed with the same format as
``llvmlite.ir.instructions`` (0.50) prints it, so the module text is byte for byte
the one ``IRBuilder`` gives (``tests/llvm/test_fast_ir.py`` compares the two on many
graphs). The builder does not repeat ``llvmlite``'s argument checks: a malformed
instruction is reported by LLVM's verifier in :func:`.jit.compile_ir` instead.
"""

from __future__ import annotations

from llvmlite import ir

_CMP = {">": "gt", "<": "lt", "==": "eq", "!=": "ne", ">=": "ge", "<=": "le"}
_VOID = ir.VoidType


def _scope_is_inlinable() -> bool:
    """Whether ``llvmlite``'s ``NameScope`` has the layout whose registration of
    unnamed values :class:`FastInstr` inlines (else it calls ``register``)."""
    from llvmlite.ir._utils import NameScope
    scope = NameScope()
    return (isinstance(getattr(scope, "_useset", None), set) and "" in scope._useset
            and hasattr(getattr(scope, "_basenamemap", None), "__getitem__"))


_FAST_SCOPE = _scope_is_inlinable()


def _ref(name: str) -> str:
    if "\\" in name or '"' in name:
        name = name.replace("\\", "\\5c").replace('"', "\\22")
    return f'%"{name}"'


class TypeNames(dict):
    """``str(type)`` per type object (kept alive here, so ids stay unique)."""

    def name(self, ty) -> str:
        hit = self.get(id(ty))
        if hit is None:
            hit = self[id(ty)] = (ty, str(ty))
        return hit[1]


class FastInstr:
    """One instruction: its operands and how to print them (see the module docstring).
    Has the attributes of ``llvmlite.ir`` instructions that :mod:`.lower` reads or sets:
    ``type``, ``name``, ``parent``, ``align``, ``metadata``, ``set_metadata``,
    ``add_incoming`` (phi) and ``set_weights`` (conditional branch)."""

    __slots__ = ("_names", "_reference", "_text", "align", "flags", "incomings", "kind",
                 "metadata", "name", "opname", "operands", "parent", "type")

    def __init__(self, parent, typ, kind, opname, operands, names, name="", flags=()):
        self.parent = parent
        self.type = typ
        self.kind = kind
        self.opname = opname
        self.operands = operands
        self.flags = flags
        self.align = None
        self.metadata = None
        self._names = names
        self._text = None
        scope = parent.scope
        if name or _FAST_SCOPE is False:
            name = scope.register(name, deduplicate=True)
        else:  # NameScope.register("", deduplicate=True), inlined: "" is always taken
            used, counters = scope._useset, scope._basenamemap
            while True:
                ident = counters[""] + 1
                counters[""] = ident
                name = f".{ident}"
                if name not in used:
                    break
            used.add(name)
        self.name = name
        self._reference = _ref(name)

    def get_reference(self) -> str:
        return self._reference

    @property
    def function(self):
        return self.parent.function

    @property
    def module(self):
        return self.parent.function.module

    def set_metadata(self, name, node) -> None:
        if self.metadata is None:
            self.metadata = {}
        self.metadata[name] = node

    def add_incoming(self, value, block) -> None:
        self.incomings.append((value, block))

    def set_weights(self, weights) -> None:
        module = self.module
        operands = [ir.MetaDataString(module, "branch_weights")]
        for w in weights:
            if w < 0:
                raise ValueError("branch weight must be a positive integer")
            operands.append(ir.Constant(ir.IntType(32), w))
        self.set_metadata("prof", module.add_metadata(operands))

    def _meta(self) -> str:
        if not self.metadata:
            return ""
        return "".join(f", !{k} {v.get_reference()}" for k, v in self.metadata.items())

    def __str__(self) -> str:
        text = self._text
        if text is None:
            text = self._text = self._render()
        return text

    def _render(self) -> str:
        tn = self._names.name
        kind = self.kind
        ops = self.operands
        if kind == "op":        # binary and unary operators
            opname = self.opname
            if self.flags:
                opname = " ".join([opname, *self.flags])
            body = (f"{opname} {tn(self.type)} "
                    f"{', '.join([o.get_reference() for o in ops])}{self._meta()}")
        elif kind == "cmp":
            a, b = ops
            body = (f"{self.opname} {self.flags} {tn(a.type)} {a.get_reference()}, "
                    f"{b.get_reference()} {self._meta()}")
        elif kind == "select":
            c, a, b = ops
            body = (f"select  {tn(c.type)} {c.get_reference()}, {tn(a.type)} "
                    f"{a.get_reference()}, {tn(b.type)} {b.get_reference()} "
                    f"{self._meta()}")
        elif kind == "cast":
            (a,) = ops
            body = (f"{self.opname} {tn(a.type)} {a.get_reference()} to "
                    f"{tn(self.type)} {self._meta()}")
        elif kind == "load":
            (p,) = ops
            align = "" if self.align is None else f", align {self.align}"
            body = (f"load {tn(self.type)}, {tn(p.type)} {p.get_reference()}{align}"
                    f"{self._meta()}")
        elif kind == "store":
            v, p = ops
            align = "" if self.align is None else f", align {self.align}"
            body = (f"store {tn(v.type)} {v.get_reference()}, {tn(p.type)} "
                    f"{p.get_reference()}{align}{self._meta()}")
        elif kind == "gep":
            p, etype = ops[0], ops[1]
            idx = ", ".join([f"{tn(i.type)} {i.get_reference()}" for i in ops[2:]])
            op = "getelementptr inbounds" if self.flags else "getelementptr"
            body = (f"{op} {tn(etype)}, {tn(p.type)} {p.get_reference()}, {idx} "
                    f"{self._meta()}")
        elif kind == "phi":
            incs = ", ".join([f"[{v.get_reference()}, {b.get_reference()}]"
                              for v, b in self.incomings])
            body = f"phi  {tn(self.type)} {incs} {self._meta()}"
        elif kind == "call":
            fn = ops[0]
            args = ", ".join([f"{tn(a.type)} {a.get_reference()}" for a in ops[1:]])
            fnty = fn.function_type
            callee = f"{tn(fnty if fnty.var_arg else fnty.return_type)} " \
                     f"{fn.get_reference()}"
            cconv = getattr(fn, "calling_convention", "")
            if cconv:
                callee = f"{cconv} {callee}"
            body = f"call {callee}({args}){self._meta()}"
        elif kind == "vec":     # extractelement, insertelement
            body = self.opname + " " + ", ".join(
                [f"{tn(o.type)} {o.get_reference()}" for o in ops])
        elif kind == "shuffle":
            body = "shufflevector " + ", ".join(
                [f"{tn(o.type)} {o.get_reference()}" for o in ops]) + " " + self._meta()
        elif kind == "term":    # br
            body = self.opname + " " + ", ".join(
                [f"{tn(o.type)} {o.get_reference()}" for o in ops]) + self._meta()
        elif kind == "ret":
            body = f"ret void{self._meta()}"
        else:  # pragma: no cover
            raise AssertionError(kind)
        if isinstance(self.type, _VOID):
            return body.rstrip()
        return f"{self._reference} = {body}".rstrip()

    def __repr__(self) -> str:
        return f"<FastInstr {self.opname} {self.name!r}>"


class FastBuilder:
    """The part of ``llvmlite.ir.IRBuilder`` that :mod:`.lower` uses (see the module
    docstring), positioned at the end of ``block``."""

    def __init__(self, block=None):
        self._block = block
        self._anchor = len(block.instructions) if block is not None else 0
        self._names = TypeNames()

    @property
    def block(self):
        return self._block

    basic_block = block

    @property
    def function(self):
        return self._block.parent

    @property
    def module(self):
        return self._block.parent.module

    def position_at_end(self, block) -> None:
        self._block = block
        self._anchor = len(block.instructions)

    def position_before(self, instr) -> None:
        self._block = instr.parent
        self._anchor = self._block.instructions.index(instr)

    def _new(self, typ, kind, opname, operands, name="", flags=()) -> FastInstr:
        block = self._block
        ins = FastInstr(block, typ, kind, opname, operands, self._names, name, flags)
        block.instructions.insert(self._anchor, ins)
        self._anchor += 1
        return ins

    def _terminate(self, ins: FastInstr) -> FastInstr:
        assert self._block.terminator is None
        self._block.terminator = ins
        return ins

    # arithmetic (operands of one type; the verifier checks)
    def _binop(opname):
        def emit(self, lhs, rhs, name="", flags=()):
            return self._new(lhs.type, "op", opname, (lhs, rhs), name, tuple(flags))
        emit.__name__ = opname
        return emit

    fadd = _binop("fadd")
    fsub = _binop("fsub")
    fmul = _binop("fmul")
    fdiv = _binop("fdiv")
    frem = _binop("frem")
    add = _binop("add")
    sub = _binop("sub")
    mul = _binop("mul")
    and_ = _binop("and")
    or_ = _binop("or")
    xor = _binop("xor")
    del _binop

    def fneg(self, arg, name="", flags=()):
        return self._new(arg.type, "op", "fneg", (arg,), name, tuple(flags))

    # comparisons
    def _cmp(self, opname, op, lhs, rhs, name, flags=()):
        ty = lhs.type
        rty = ir.VectorType(ir.IntType(1), ty.count) if isinstance(ty, ir.VectorType) \
            else ir.IntType(1)
        return self._new(rty, "cmp", opname + "".join(" " + f for f in flags),
                         (lhs, rhs), name, op)

    def icmp_signed(self, cmpop, lhs, rhs, name=""):
        op = _CMP[cmpop]
        return self._cmp("icmp", op if cmpop in ("==", "!=") else "s" + op, lhs, rhs,
                         name)

    def icmp_unsigned(self, cmpop, lhs, rhs, name=""):
        op = _CMP[cmpop]
        return self._cmp("icmp", op if cmpop in ("==", "!=") else "u" + op, lhs, rhs,
                         name)

    def fcmp_ordered(self, cmpop, lhs, rhs, name="", flags=()):
        op = "o" + _CMP[cmpop] if cmpop in _CMP else cmpop
        return self._cmp("fcmp", op, lhs, rhs, name, flags)

    def fcmp_unordered(self, cmpop, lhs, rhs, name="", flags=()):
        op = "u" + _CMP[cmpop] if cmpop in _CMP else cmpop
        return self._cmp("fcmp", op, lhs, rhs, name, flags)

    def select(self, cond, lhs, rhs, name="", flags=()):
        if flags:  # pragma: no cover - the lowering sets none
            raise NotImplementedError("select flags")
        return self._new(lhs.type, "select", "select", (cond, lhs, rhs), name)

    # casts
    def _cast(opname):
        def emit(self, value, typ, name=""):
            return self._new(typ, "cast", opname, (value,), name)
        emit.__name__ = opname
        return emit

    fpext = _cast("fpext")
    fptrunc = _cast("fptrunc")
    bitcast = _cast("bitcast")
    del _cast

    # memory
    def load(self, ptr, name="", align=None, typ=None):
        if typ is None:  # pragma: no cover - the lowering always gives the type
            raise NotImplementedError("load without typ")
        ld = self._new(typ, "load", "load", (ptr,), name)
        ld.align = align
        return ld

    def store(self, value, ptr, align=None):
        st = self._new(ir.VoidType(), "store", "store", (value, ptr))
        st.align = align
        return st

    def gep(self, ptr, indices, inbounds=False, name="", source_etype=None):
        if source_etype is None:  # pragma: no cover - the lowering always gives it
            raise NotImplementedError("gep without source_etype")
        return self._new(ptr.type, "gep", "getelementptr",
                         (ptr, source_etype, *indices), name, inbounds)

    # calls
    def call(self, fn, args, name=""):
        return self._new(fn.function_type.return_type, "call", "call", (fn, *args),
                         name)

    # vectors
    def extract_element(self, vector, idx, name=""):
        return self._new(vector.type.element, "vec", "extractelement", (vector, idx),
                         name)

    def insert_element(self, vector, value, idx, name=""):
        return self._new(vector.type, "vec", "insertelement", (vector, value, idx),
                         name)

    def shuffle_vector(self, vector1, vector2, mask, name=""):
        typ = ir.VectorType(vector1.type.element, mask.type.count)
        return self._new(typ, "shuffle", "shufflevector", (vector1, vector2, mask),
                         name)

    def phi(self, typ, name="", flags=()):
        if flags:  # pragma: no cover - the lowering sets none
            raise NotImplementedError("phi flags")
        p = self._new(typ, "phi", "phi", (), name)
        p.incomings = []
        return p

    # terminators
    def branch(self, target):
        return self._terminate(self._new(ir.VoidType(), "term", "br", (target,)))

    def cbranch(self, cond, truebr, falsebr):
        return self._terminate(self._new(ir.VoidType(), "term", "br",
                                         (cond, truebr, falsebr)))

    def ret_void(self):
        return self._terminate(self._new(ir.VoidType(), "ret", "ret void", ()))
