"""The interactive trace page: one self-contained HTML document (or notebook fragment)
that steps through the primal, tangent and adjoint sweeps of a :class:`Trace`.

The page holds the Graphviz diagram of the trace (inline SVG), the primal and tangent or
adjoint tables, and a small vanilla-JavaScript controller; the trace itself is embedded
as JSON in a ``<script type="application/json">`` block. Nothing is loaded from the
network (no CDN, no fonts, no images by URL), and a Content-Security-Policy in the full
document forbids it.

Controls: buttons and the keyboard (← and → step back and forward, Home and End jump
to the start and the end) step through the rows of the trace in table order: the
forward primal sweep, then the tangent sweep (forward mode) or the adjoint
accumulation steps (reverse mode), each written out with its numbers,
``v̄₀ = v̄₀ + v̄₂ ∂v₂/∂v₀ = … = −0.283662 + 1 × 2 = 1.71634``. The current node, its edges
and its table row are highlighted, and a table of the values so far shows each
adjoint (tangent) as it accumulates. Hovering over or focusing (Tab) a node or a row
shows the node's expression, value, local partials, tangent and adjoint; array nodes
show their shape and heat maps of their value, tangent and adjoint. Where a NaN or an
infinity first appeared (:attr:`Trace.problems`), the node, the edge and the row are
marked and a banner leads to it.

Loops (``scan``, ``while_loop``, ``switch`` nodes): the diagram draws each as one node,
and its body is shown once below the diagram in a ``<details>`` element, folded, whose
summary gives the trip count; a click on the summary, on the loop node or on the
*body* button of the loop's row group unfolds it. In the tables each loop is one row
group (``<tbody class="gc-loop-rows">``) headed by the trip count: the packing of its
operands, the loop, the unpacking of its results, and the derivative of the whole loop
in one row (:func:`loop_groups`).

Accessibility: every control, node and row is reachable with Tab, in that order (nodes
in trace order v₋₁, v₀, v₁, …), and has an ``aria-label``; the step description is an
``aria-live`` region. Colours come from the Okabe–Ito colour-blind-safe palette (blue
#0072B2, orange #E69F00, vermillion #D55E00, reddish purple #CC79A7; Okabe & Ito,
"Color Universal Design", 2002) and every colour cue is doubled by a shape or weight
cue (thick outline for the current node, thick solid edges for its edges, a dashed
outline and a ⚠ sign for a NaN/inf origin).
"""

from __future__ import annotations

import hashlib
import html
import json
import math
import re
from typing import Any

import numpy as np

from ..ir import GraphcError
from . import notation as nt

HEAT_MAX = 24
"""Heat maps show at most this many rows and columns (larger arrays are sampled with a
regular stride, and say so)."""

# Graphviz's SVG: one <g class="node"> (no nested groups) and one <g class="edge"> per
# node and edge, titled with the DOT name ("vm1", "vm1->v1"); ids are Graphviz's own
# ("node3") or the DOT "id" attribute's
_NODE_HEAD = re.compile(r'(?:<!-- [^\n]*? -->\n)?<g id="[^"]*" class="node">\n'
                        r'<title>([^<]*)</title>')
_EDGE_G = re.compile(r'<g id="[^"]*" class="edge">\n<title>([^<]*)</title>')


def _dom(trace_name: str) -> str:
    """The diagram's node id of a trace name: ``"v-1"`` → ``"vm1"`` (as in
    :mod:`graphc.viz.dot`)."""
    k = int(trace_name[1:])
    return f"v{k}" if k >= 0 else f"vm{-k}"


def _num(x: Any) -> Any:
    """A float for JSON: non-finite values as the strings ``"nan"``, ``"inf"``,
    ``"-inf"`` (JSON has no NaN)."""
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def _heat(v: Any) -> dict | None:
    """A heat-map record of an array value: ``{"cells": 2-D list, "shape": [...],
    "sampled": bool}`` (1-D arrays as one row; more dimensions flattened after the
    first; at most :data:`HEAT_MAX` rows and columns, by stride); None for a scalar."""
    if not nt.is_array(v):
        return None
    a = np.asarray(v, dtype=np.float64)
    shape = list(a.shape)
    if a.ndim == 0:
        return None
    if a.ndim == 1:
        a = a[None, :]
    elif a.ndim > 2:
        a = a.reshape(a.shape[0], -1)
    sr = max(1, math.ceil(a.shape[0] / HEAT_MAX))
    sc = max(1, math.ceil(a.shape[1] / HEAT_MAX))
    b = a[::sr, ::sc]
    cells = [[_num(float(f"{x:.4g}")) if math.isfinite(x) else _num(x) for x in row]
             for row in b.tolist()]
    return {"cells": cells, "shape": shape, "sampled": sr > 1 or sc > 1}


def _scalar(v: Any) -> Any:
    return None if nt.is_array(v) else _num(v)


def _paren(m: nt.Math) -> str:
    return f"({m.text})" if nt.is_negative_text(m) else m.text


def _dot_ids(trace) -> dict[str, str]:
    """``{trace name: diagram node id}`` for the numbered nodes."""
    return {trace.id_of(n): _dom(trace.id_of(n)) for n in trace.numbers}


def loop_groups(trace) -> dict[str, list[str]]:
    """The rows of each loop, for showing a loop as one row group: ``{trace name of a
    scan/while_loop/switch node: [trace names of the node itself, of the reshape and
    concatenate nodes that only pack its operands, and of the getitem and reshape nodes
    that unpack its value]}``, in trace order. A control-flow node takes and gives
    packed vectors (:mod:`graphc.ir.control_flow`); these helpers are the
    bookkeeping around the loop, not computations of their own.

    Args:
        trace: a :class:`graphc.viz.Trace`.
    """
    from ..ir import control_flow as cf
    g = trace.graph
    users: dict[int, list] = {}
    for n in g.operations:
        for a in n.args:
            users.setdefault(id(a), []).append(n)
    outputs = {id(o) for o in g.outputs}
    out: dict[str, list[str]] = {}
    for loop in sorted((n for n in trace.numbers if cf.is_control(n)),
                       key=lambda n: trace.numbers[n]):
        group = {id(loop): loop}
        for u in users.get(id(loop), []):
            if u.prim.name in ("getitem", "reshape"):
                group[id(u)] = u
                if u.prim.name == "getitem":
                    for w in users.get(id(u), []):
                        if w.prim.name == "reshape":
                            group[id(w)] = w
        stack = list(loop.args)
        while stack:
            n = stack.pop()
            if (n.is_input or not n.args or id(n) in group or id(n) in outputs
                    or n.prim.name not in ("concatenate", "reshape")
                    or not all(id(u) in group for u in users.get(id(n), []))):
                continue
            group[id(n)] = n
            stack.extend(n.args)
        out[trace.id_of(loop)] = [trace.id_of(n) for n in sorted(
            (n for n in group.values() if n in trace.numbers),
            key=lambda n: trace.numbers[n])]
    return out


def _loop_record(trace, node) -> dict:
    """The page's record of one control-flow node: its trip count and the captions and
    sizes of its bodies."""
    from .dot import loop_captions
    p = dict(node.params)
    trips = p.get("length") if node.prim.name == "scan" else p.get("max_steps")
    name = trace.id_of(node)
    return {
        "node": name, "dom": _dom(name), "var": nt.var(trace.numbers[node]).text,
        "op": node.prim.name, "trips": trips,
        "bodies": [{"caption": cap, "operations": len(b.graph.operations),
                    "inputs": [x.name for x in b.graph.inputs],
                    "outputs": list(b.graph.output_names)}
                   for b, cap in loop_captions(node)],
    }


def _loop_summary(rec: dict) -> str:
    """``v₇ = scan: 1000 steps of a body of 5 operations`` (the row group's and the
    folded body's caption)."""
    n_ops = sum(b["operations"] for b in rec["bodies"])
    if rec["op"] == "scan":
        what = f"{rec['trips']} steps of a body of {n_ops} operations"
    elif rec["op"] == "while_loop":
        what = (f"at most {rec['trips']} steps" if rec["trips"] is not None else
                "a trip count known at run time") + \
            f" of a body and a condition of {n_ops} operations"
    else:
        what = f"one of {len(rec['bodies'])} branches ({n_ops} operations in all)"
    return f"{rec['var']} = {rec['op']}: {what}"


def trace_data(trace, digits: int | None = None) -> dict:
    """The trace as the JSON-ready record the page's controller reads.

    Args:
        trace: a :class:`graphc.viz.Trace` (scalar or array nodes, any mode).
        digits: significant digits of displayed values (default: the trace's).

    Returns:
        ``{"title", "mode", "sections", "nodes", "steps", "problems", "outputs"}``:
        ``nodes`` one record per numbered node (trace name, diagram id, expression,
        value text, shape, local partials, final tangent and adjoint, heat maps),
        ``steps`` one record per table row in table order (section, kind, node, the
        row's text, the value it sets, the adjoint accumulation written with numbers,
        the diagram edges involved, a NaN/inf flag, and ``loop``: the diagram id of
        the loop whose row group it belongs to, see :func:`loop_groups`), ``loops``
        one record per loop or branch node (trip count, each body's caption and number
        of operations). The derivative of a whole loop (a loop itself) is written
        ``v̄₆ = VJP of v₇ = scan: 1000 steps of a body of 5 operations = …``. Numbers
        are floats, non-finite ones the strings ``"nan"``, ``"inf"``, ``"-inf"``.
    """
    d = digits or trace.digits
    g = trace.graph
    limit = trace.matrix_max
    ids = _dot_ids(trace)
    rows = trace.rows(digits=d)
    outputs = list(zip(g.output_names, g.outputs))

    nodes = []
    for n in sorted(trace.numbers, key=lambda n: trace.numbers[n]):
        name = trace.id_of(n)
        rec: dict[str, Any] = {
            "id": name, "dom": ids[name], "var": nt.var(trace.numbers[n]).text,
            "label": n.name if n.is_input else g.labels.get(n),
            "kind": "input" if n.is_input else "op",
            "op": None if n.is_input else n.prim.name,
            "value": _scalar(trace.primal[n]),
            "value_text": nt.value(trace.primal[n], d, limit).text,
            "shape": list(trace.shape_of(n)),
            "static_shape": nt.format_shape(n.shape) if n.shape != () else None,
            "heat": _heat(trace.primal[n]),
            "partials": [], "expr": None,
            "tangent_text": None, "adjoint_text": None,
            "tangent_heat": None, "adjoint_heat": None, "flags": [],
        }
        if not n.is_input:
            for i, a in enumerate(n.args):
                p = trace.partials.get((n, i))
                if p is None or a.is_const:
                    continue
                rec["partials"].append({
                    "wrt": trace.id_of(a), "kind": p.kind,
                    "symbol": (f"{nt.PARTIAL}{nt.var(trace.numbers[n]).text}/"
                               f"{nt.PARTIAL}{nt.var(trace.numbers[a]).text}"),
                    "expr": trace._partial_math(p, d).text,
                    "value_text": nt.value(p.value, d, limit).text})
        if trace.tangent is not None:
            tv = trace.tangent.get(n, trace._zero(n))
            rec["tangent_text"] = nt.value(tv, d, limit).text
            rec["tangent_heat"] = _heat(tv)
        if trace.adjoint is not None:
            av = trace.adjoint.get(n, trace._zero(n))
            rec["adjoint_text"] = nt.value(av, d, limit).text
            rec["adjoint"] = _scalar(av)
            rec["adjoint_heat"] = _heat(av)
        nodes.append(rec)
    by_name = {r["id"]: r for r in nodes}
    for r in rows:
        if r["section"] == "primal" and r["kind"] == "op":
            by_name[r["node"]]["expr"] = r["chain"][0]
        elif r["section"] == "primal" and r["kind"] == "input":
            by_name[r["node"]]["expr"] = r["chain"][0]
        if r["flag"] and r["node"] in by_name:
            by_name[r["node"]]["flags"].append(r["flag"])

    by_node = {trace.id_of(n): n for n in trace.numbers}
    groups = loop_groups(trace)
    loops = [_loop_record(trace, by_node[name]) for name in groups]
    loop_of = {m: name for name, members in groups.items() for m in members}
    summaries = {rec["node"]: _loop_summary(rec) for rec in loops}

    steps = []
    bar: dict[str, Any] = {}      # current adjoints, by trace name
    out_k = {"primal": 0, "tangent": 0}
    for k, r in enumerate(rows):
        node = r["node"]
        dom = ids.get(node) if node is not None else None
        step: dict[str, Any] = {
            "k": k, "section": r["section"], "kind": r["kind"], "node": node,
            "dom": dom, "label": r["label"], "lhs": r["lhs"], "text": r["text"],
            "value": _scalar(r["value"]), "value_text": r["value_text"],
            "shape": list(r["shape"]), "heat": _heat(r["value"]), "flag": r["flag"],
            "sets": None, "numbers": None, "before": None, "edges": [], "into": None,
            "loop": None,
        }
        group = r["source"] if r["kind"] == "step" else (
            node if r["kind"] == "op" else None)
        if group in loop_of:
            step["loop"] = _dom(loop_of[group])
            whole = group if group in groups else None
            if whole is not None and r["section"] != "primal" and len(step["text"]) > 160:
                # the derivative of a whole loop: a loop of its own, written out in
                # full it would fill the page
                lhs = r["lhs"]
                acc = f"{lhs} + " if r["text"].startswith(f"{lhs} = {lhs} + ") else ""
                how = ("VJP of" if r["section"] == "adjoint" else "JVP of")
                step["text"] = (f"{lhs} = {acc}{how} {summaries[whole]} = "
                                f"{r['value_text']}")
        if r["section"] == "primal":
            if r["kind"] in ("input", "op"):
                step["sets"] = "v"
                step["into"] = dom
            else:
                step["edges"] = [[dom, f"y{out_k['primal']}"]]
                out_k["primal"] += 1
        elif r["section"] == "tangent":
            if r["kind"] in ("input", "op"):
                step["sets"] = "dot"
                step["into"] = dom
            else:
                step["edges"] = [[dom, f"y{out_k['tangent']}"]]
                out_k["tangent"] += 1
        elif r["kind"] == "seed":
            step["sets"] = "bar"
            if node in bar:
                step["before"] = nt.value(bar[node], d, limit).text
            bar[node] = r["value"]
        elif r["kind"] == "step":
            src = r["source"]
            step["sets"] = "bar"
            step["edges"] = [[dom, ids.get(src)]]
            prev = bar.get(node)
            src_bar = bar.get(src, 0.0)
            pv = r["partial_value"]
            if prev is not None:
                step["before"] = nt.value(prev, d, limit).text
            if (r["partial_kind"] == "partial" and not nt.is_array(pv)
                    and not nt.is_array(src_bar) and not nt.is_array(r["value"])):
                prod = (f"{_paren(nt.number(src_bar, d))} {nt.TIMES} "
                        f"{_paren(nt.number(pv, d))}")
                lead = "" if prev is None else f"{nt.number(prev, d).text} + "
                step["numbers"] = f"{lead}{prod} = {r['value_text']}"
            bar[node] = r["value"]
        steps.append(step)

    problems = [{"section": p.section, "row": p.row, "node": p.node,
                 "dom": ids.get(p.node),
                 "edge": None if p.edge is None else [ids.get(p.edge[1]),
                                                      ids.get(p.edge[0])],
                 "kind": p.kind, "cause": p.cause, "message": p.message}
                for p in trace.problems]
    for p in problems:   # Problem.row indexes all rows in table order, as steps do
        p["step"] = p["row"] if p["row"] < len(steps) else None
    return {
        "title": trace.title, "mode": trace.mode, "sections": trace.sections,
        "digits": d, "nodes": nodes, "steps": steps, "problems": problems,
        "loops": loops,
        "outputs": [{"name": nm, "dom": f"y{j}", "node": trace.id_of(o)
                     if o in trace.numbers else None}
                    for j, (nm, o) in enumerate(outputs)],
    }


def _group_end(svg: str, pos: int) -> int:
    """The index just after the ``</g>`` (and its newline) that closes the group open
    at ``pos`` (nested groups, such as Graphviz's link anchors, included)."""
    depth = 1
    for m in re.finditer(r"<g[\s>]|</g>", svg[pos:]):
        depth += -1 if m.group(0) == "</g>" else 1
        if depth == 0:
            end = pos + m.end()
            return end + 1 if svg[end:end + 1] == "\n" else end
    raise GraphcError("unbalanced groups in Graphviz's SVG")


def _order_key(dom: str) -> tuple[int, int]:
    if re.fullmatch(r"vm\d+", dom):
        return 0, -int(dom[2:])
    if re.fullmatch(r"v\d+", dom):
        return 0, int(dom[1:])
    if re.fullmatch(r"y\d+", dom):
        return 1, int(dom[1:])
    return 2, 0


def _prepare_svg(svg: str, prefix: str, labels: dict[str, str]) -> str:
    """Graphviz SVG made ready for the page: prolog and comments dropped, node groups
    moved after the edges in trace order (so that Tab visits them in that order) and
    given ids, ``data-gc-dom`` attributes, ``tabindex`` and ``aria-label``; edge groups
    given ``data-gc-src``/``data-gc-dst`` (from their ``<title>``, ``src->dst``)."""
    start = svg.find("<svg")
    if start < 0:
        raise GraphcError("Graphviz returned no SVG")
    svg = svg[start:]
    blocks = []
    pieces, at = [], 0
    for m in _NODE_HEAD.finditer(svg):
        if m.start() < at:
            continue
        end = _group_end(svg, m.end())
        blocks.append((html.unescape(m.group(1)), svg[m.start():end]))
        pieces.append(svg[at:m.start()])
        at = end
    svg = "".join(pieces) + svg[at:]
    blocks.sort(key=lambda b: _order_key(b[0]))
    out_nodes = []
    for dom, block in blocks:
        block = re.sub(r"^<!-- [^\n]*? -->\n", "", block)
        if dom in labels:
            attrs = (f'id="{prefix}-n-{dom}" class="node gc-node" data-gc-dom="{dom}" '
                     f'tabindex="0" role="button" aria-label="{html.escape(labels[dom])}"')
        else:
            attrs = f'class="node" data-gc-dom="{html.escape(dom)}"'
        block = re.sub(r'^<g id="[^"]*" class="node">', f"<g {attrs}>", block)
        out_nodes.append(block)

    def edge(m: re.Match) -> str:
        src, _, dst = html.unescape(m.group(1)).partition("->")
        return (f'<g class="edge gc-edge" data-gc-src="{html.escape(src.split(":")[0])}" '
                f'data-gc-dst="{html.escape(dst.split(":")[0])}">\n<title>{m.group(1)}</title>')
    svg = _EDGE_G.sub(edge, svg)
    svg = re.sub(r"<!--.*?-->\n?", "", svg, flags=re.S)
    svg = svg.replace('<g id="graph0" class="graph"', f'<g id="{prefix}-graph" class="graph"',
                      1)
    end = svg.rfind("</g>")
    svg = svg[:end] + "".join(out_nodes) + svg[end:]
    svg = svg.replace("<svg ", f'<svg role="group" aria-label="computational graph" '
                               f'class="gc-svg" ', 1)
    return svg


def _node_label(rec: dict) -> str:
    parts = [rec["var"]]
    if rec["label"]:
        parts.append(f"({rec['label']})")
    parts.append(f"= {rec['expr']}" if rec["expr"] else "")
    parts.append(f"= {rec['value_text']}")
    if rec["shape"]:
        parts.append(f"shape {tuple(rec['shape'])}")
    if rec["tangent_text"] is not None:
        parts.append(f"tangent {rec['tangent_text']}")
    if rec["adjoint_text"] is not None:
        parts.append(f"adjoint {rec['adjoint_text']}")
    if rec["flags"]:
        parts.append(rec["flags"][0])
    return " ".join(p for p in parts if p)


def _esc(text: Any) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def _json_script(data: dict) -> str:
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    # inside <script>: no "</script", no "<!--"
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


_SECTION_HEADINGS = {
    "primal": "Forward primal trace",
    "tangent": "Forward tangent (derivative) trace",
    "adjoint": "Reverse adjoint (derivative) trace",
}


def _tables(data: dict) -> str:
    out = []
    for sec in data["sections"]:
        rows = [s for s in data["steps"] if s["section"] == sec]
        out.append(f'<section class="gc-table" aria-label="{_esc(_SECTION_HEADINGS[sec])}">'
                   f"<h2>{_esc(_SECTION_HEADINGS[sec])}</h2>")
        out.append('<table class="graphc-trace">')
        out.append('<thead><tr><th scope="col">variable</th><th scope="col">expression'
                   '</th><th scope="col">value</th><th scope="col">note</th></tr></thead>'
                   "<tbody>")
        group = None
        loops = {rec["dom"]: rec for rec in data.get("loops", [])}
        for s in rows:
            if s.get("loop") != group:
                group = s.get("loop")
                out.append("</tbody><tbody>" if group is None else
                           _loop_head(loops[group], sec))
            lhs, _, rest = s["text"].partition(" = ")
            expr = rest
            if expr.endswith(" = " + s["value_text"]):
                expr = expr[: -len(s["value_text"]) - 3]
            elif expr == s["value_text"]:
                expr = ""
            note = []
            if s["label"] and s["kind"] not in ("input", "result", "output"):
                note.append(s["label"])
            if s["shape"]:
                note.append("shape " + "×".join(str(k) for k in s["shape"]))
            cls = "gc-row" + (" gc-flagged" if s["flag"] else "")
            flag = (f'<span class="gc-flag">{_esc(s["flag"])}</span>' if s["flag"] else "")
            out.append(
                f'<tr class="{cls}" data-gc-row="{s["k"]}" tabindex="0" '
                f'aria-label="step {s["k"] + 1}: {_esc(s["text"])}'
                f'{"; " + _esc(s["flag"]) if s["flag"] else ""}">'
                f'<th scope="row">{_esc(lhs)}</th><td>{_esc(expr)}</td>'
                f'<td class="gc-num">{_esc(s["value_text"])}</td>'
                f'<td>{_esc("; ".join(note))}{flag}</td></tr>')
        out.append("</tbody></table></section>")
    return "\n".join(out)


def _loop_head(rec: dict, section: str) -> str:
    """The opening of a loop's row group: ``<tbody class="gc-loop-rows">`` and a header
    row with the trip count and a button that unfolds the body."""
    how = {"primal": "loop", "tangent": "forward mode through loop",
           "adjoint": "reverse mode through loop"}[section]
    text = f"⟳ {how} {_loop_summary(rec)}: one row for all the steps"
    return (f'</tbody><tbody class="gc-loop-rows" data-gc-loop="{_esc(rec["dom"])}">'
            f'<tr class="gc-loop-head"><th colspan="4" scope="rowgroup">{_esc(text)} '
            f'<button type="button" data-gc-open-loop="{_esc(rec["dom"])}" '
            f'aria-label="show the body of {_esc(rec["var"])}">body</button></th></tr>')


def _body_svg(graph, prefix: str) -> str:
    """A body graph as inline SVG (graph view, loops inside it as clusters), its
    Graphviz ids prefixed so they cannot clash with the main diagram's; a note where
    Graphviz is missing or the body is too large to draw."""
    from .dot import DiagramTooLargeError, graph_to_dot
    from .render import render_dot
    try:
        svg = render_dot(graph_to_dot(graph, max_nodes=400), "svg").decode("utf-8")
    except (DiagramTooLargeError, GraphcError) as exc:
        return f'<p class="gc-note">No diagram of the body: {_esc(exc)}</p>'
    svg = svg[svg.find("<svg"):]
    svg = re.sub(r"<!--.*?-->\n?", "", svg, flags=re.DOTALL)
    svg = re.sub(r'\bid="([^"]*)"', lambda m: f'id="{prefix}-{m.group(1)}"', svg)
    return svg.replace("<svg ", '<svg class="gc-svg gc-body-svg" role="img" ', 1)


def _legend(node, graph) -> str:
    """What a body's inputs are: ``. Inputs: c₀ → x, c₁ → v carried from step to step;
    k… loop-invariant operands`` (a carry named after the body output it becomes)."""
    p = dict(node.params)
    n_carry = p.get("n_carry")
    if n_carry is None:            # switch branches: operands only
        return ". Inputs: o… the operands, k… values from outside"
    outs = list(graph.output_names)
    named = [f"c{i} → {outs[i]}" for i in range(min(n_carry, len(outs)))
             if outs[i] != f"y{i}"] if len(outs) >= n_carry else []
    carries = ", ".join(named) if named else "c…"
    rows = "; x… the rows of the per-step inputs" if p.get("n_xs") else ""
    return f". Inputs: {carries} carried from step to step{rows}; k… loop-invariant operands"


def _loop_details(trace, data: dict, prefix: str) -> str:
    """One folded ``<details>`` per loop or branch node: its bodies drawn once (graph
    view) with their operations listed, under a summary giving the trip count."""
    from ..ir import control_flow as cf
    by_name = {trace.id_of(n): n for n in trace.numbers}
    out = []
    for rec in data["loops"]:
        node = by_name[rec["node"]]
        parts = [(f'<details class="gc-loop" id="{prefix}-loop-{rec["dom"]}" '
                  f'data-gc-loop="{_esc(rec["dom"])}">'),
                 (f"<summary>{_esc(_loop_summary(rec))} (body shown once; click to "
                  "unfold)</summary>")]
        for j, (body, b) in enumerate(zip(cf.bodies(node), rec["bodies"])):
            svg = _body_svg(body.graph, f"{prefix}-{rec['dom']}-b{j}")
            parts.append(f'<figure class="gc-loop-body"><figcaption>{_esc(b["caption"])}'
                         f"{_esc(_legend(node, body.graph))}</figcaption>{svg}"
                         f'<pre class="gc-loop-ir">{_esc(str(body.graph))}</pre></figure>')
        parts.append("</details>")
        out.append("".join(parts))
    if not out:
        return ""
    return ('<section class="gc-loops" aria-label="loop bodies"><h2>Loop bodies</h2>'
            + "".join(out) + "</section>")


def _values_table(data: dict) -> str:
    cols = [("v", "value")]
    if "tangent" in data["sections"]:
        cols.append(("dot", "tangent v̇"))
    if "adjoint" in data["sections"]:
        cols.append(("bar", "adjoint v̄"))
    head = "".join(f'<th scope="col">{_esc(t)}</th>' for _, t in cols)
    body = []
    for n in data["nodes"]:
        cells = "".join(
            f'<td class="gc-num" data-gc-cell="{c}" data-gc-node="{_esc(n["id"])}">·</td>'
            for c, _ in cols)
        name = n["var"] + (f" ({n['label']})" if n["label"] else "")
        body.append(f'<tr data-gc-state="{_esc(n["id"])}"><th scope="row">{_esc(name)}'
                    f"</th>{cells}</tr>")
    return (f'<table class="gc-values"><caption>Values so far</caption><thead><tr>'
            f'<th scope="col">node</th>{head}</tr></thead><tbody>{"".join(body)}'
            f"</tbody></table>")


_CSS = """
.gc-page{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
 color:#1a1a1a;background:#fff;line-height:1.35;font-size:15px;max-width:100%}
.gc-page h1{font-size:1.25em;margin:.2em 0 .4em}
.gc-page h1 .gc-math{font-family:"STIX Two Math","Latin Modern Math","DejaVu Serif",serif;font-weight:normal}
.gc-page h2{font-size:1.05em;margin:.8em 0 .3em}
.gc-page button{font:inherit;padding:.25em .7em;border:2px solid #0072B2;background:#fff;
 color:#0b3f63;border-radius:4px;cursor:pointer}
.gc-page button:hover{background:#e6f1f8}
.gc-page :focus-visible{outline:3px solid #0072B2;outline-offset:2px}
.gc-page .gc-controls{display:flex;gap:.4em;align-items:center;flex-wrap:wrap;margin:.3em 0}
.gc-page .gc-pos{margin-left:.6em;font-variant-numeric:tabular-nums}
.gc-page .gc-current{border-left:6px solid #0072B2;background:#f1f6fa;padding:.4em .7em;
 margin:.4em 0;min-height:2.6em}
.gc-page .gc-current .gc-sec{font-size:.85em;color:#3d3d3d}
.gc-page .gc-current .gc-line{font-size:1.1em;font-weight:600}
.gc-page .gc-current .gc-acc{font-variant-numeric:tabular-nums}
.gc-page .gc-banner{border:3px dashed #D55E00;background:#fff4e5;padding:.4em .7em;margin:.4em 0}
.gc-page .gc-main{display:grid;grid-template-columns:minmax(0,3fr) minmax(0,2fr);gap:1em;
 align-items:start}
@media (max-width:900px){.gc-page .gc-main{grid-template-columns:minmax(0,1fr)}}
.gc-page .gc-left,.gc-page .gc-right{min-width:0;overflow-x:auto}
.gc-page .gc-diagram{overflow:auto;border:1px solid #ccc;padding:.3em}
.gc-page .gc-svg{max-width:100%;height:auto}
.gc-page .gc-details{border:1px solid #ccc;padding:.4em .7em;margin-top:.6em;min-height:3em}
.gc-page .gc-details dl{display:grid;grid-template-columns:auto 1fr;gap:.1em .8em;margin:.3em 0}
.gc-page .gc-details dt{font-weight:600}
.gc-page .gc-details dd{margin:0}
.gc-page table{border-collapse:collapse;font-variant-numeric:tabular-nums}
.gc-page table.graphc-trace,.gc-page table.gc-values{width:100%;font-size:.92em}
.gc-page th,.gc-page td{border-bottom:1px solid #ddd;padding:.15em .45em;text-align:left;
 vertical-align:top}
.gc-page caption{text-align:left;font-weight:600;padding:.2em 0}
.gc-page .gc-num{text-align:right}
.gc-page tr.gc-row{cursor:pointer}
.gc-page tr.gc-row.gc-done{color:#1a1a1a}
.gc-page tr.gc-row.gc-todo{color:#6b6b6b}
.gc-page tr.gc-row.gc-cur{background:#dcebf6;box-shadow:inset 6px 0 0 #0072B2;font-weight:700}
.gc-page tr.gc-flagged td,.gc-page tr.gc-flagged th{background:#fff1dc}
.gc-page tr.gc-flagged th::before{content:"\\26A0\\FE0E  ";color:#a0430a}
.gc-page .gc-flag{display:block;color:#8a3a00;font-weight:600}
.gc-page td.gc-changed{box-shadow:inset 4px 0 0 #E69F00;font-weight:700;background:#fff4e0}
.gc-page td.gc-changed::before{content:"\\25C6  ";color:#b36b00}
.gc-page g.gc-node{cursor:pointer}
.gc-page g.gc-node.gc-todo{opacity:.35}
.gc-page g.gc-node.gc-cur>polygon:last-of-type,.gc-page g.gc-node.gc-cur>ellipse{
 stroke:#0072B2;stroke-width:5}
.gc-page g.gc-node.gc-src>polygon:last-of-type,.gc-page g.gc-node.gc-src>ellipse{
 stroke:#E69F00;stroke-width:4;stroke-dasharray:8 3}
.gc-page g.gc-node.gc-problem>polygon:last-of-type,.gc-page g.gc-node.gc-problem>ellipse{
 stroke:#D55E00;stroke-width:4;stroke-dasharray:3 2}
.gc-page g.gc-node:focus>polygon:last-of-type,.gc-page g.gc-node:focus>ellipse{
 stroke:#000;stroke-width:3}
.gc-page g.gc-node:focus{outline:none}
.gc-page g.gc-edge.gc-active path{stroke:#E69F00;stroke-width:4;stroke-dasharray:none}
.gc-page g.gc-edge.gc-active polygon{stroke:#E69F00;fill:#E69F00}
.gc-page g.gc-edge.gc-active text{font-weight:700}
.gc-page g.gc-edge.gc-problem path{stroke:#D55E00;stroke-width:4}
.gc-page tbody.gc-loop-rows{border-left:4px double #7f5fa0}
.gc-page tr.gc-loop-head th{background:#f3eef8;font-weight:600;color:#3b2a50}
.gc-page tr.gc-loop-head button{font-size:.85em;padding:0 .5em;margin-left:.4em}
.gc-page tbody.gc-loop-cur tr.gc-loop-head th{background:#e4d8f0}
.gc-page details.gc-loop{border:2px dashed #7f5fa0;padding:.3em .6em;margin:.5em 0}
.gc-page details.gc-loop>summary{cursor:pointer;font-weight:600;color:#3b2a50}
.gc-page .gc-loop-body{margin:.4em 0}
.gc-page .gc-loop-body figcaption{font-style:italic;color:#3d3d3d}
.gc-page pre.gc-loop-ir{font-size:.85em;background:#f7f7f7;padding:.3em .5em;overflow-x:auto}
.gc-page .gc-heat{display:inline-block;margin:.2em .8em .2em 0;vertical-align:top}
.gc-page .gc-heat figcaption{font-size:.85em}
.gc-page .gc-help{font-size:.85em;color:#3d3d3d}
.gc-page kbd{border:1px solid #999;border-radius:3px;padding:0 .3em;font-size:.9em}
"""

_JS = r"""
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  function num(x) { return x === "nan" ? NaN : x === "inf" ? Infinity : x === "-inf" ? -Infinity : x; }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in (attrs || {})) e.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }
  function mix(a, b, t) {
    var pa = [parseInt(a.substr(1, 2), 16), parseInt(a.substr(3, 2), 16), parseInt(a.substr(5, 2), 16)];
    var pb = [parseInt(b.substr(1, 2), 16), parseInt(b.substr(3, 2), 16), parseInt(b.substr(5, 2), 16)];
    return "rgb(" + pa.map(function (x, i) { return Math.round(x + (pb[i] - x) * t); }).join(",") + ")";
  }
  // diverging Okabe-Ito blue (negative) - white - orange (positive); NaN black, inf purple
  function heatmap(h, caption) {
    var fig = el("figure", {"class": "gc-heat"});
    var cells = h.cells, rows = cells.length, cols = rows ? cells[0].length : 0;
    var size = Math.max(6, Math.min(18, Math.floor(180 / Math.max(rows, cols, 1))));
    var m = 0;
    cells.forEach(function (r) { r.forEach(function (x) { x = num(x); if (isFinite(x)) m = Math.max(m, Math.abs(x)); }); });
    var svg = document.createElementNS(NS, "svg");
    svg.setAttribute("width", cols * size); svg.setAttribute("height", rows * size);
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", caption + " heat map, " + h.shape.join("×") + (h.sampled ? " (sampled)" : "") + ", largest magnitude " + m.toPrecision(4));
    cells.forEach(function (r, i) {
      r.forEach(function (x, j) {
        x = num(x);
        var c = isNaN(x) ? "#000000" : !isFinite(x) ? "#CC79A7" : m === 0 ? "#ffffff" :
          x < 0 ? mix("#ffffff", "#0072B2", -x / m) : mix("#ffffff", "#E69F00", x / m);
        var rect = document.createElementNS(NS, "rect");
        rect.setAttribute("x", j * size); rect.setAttribute("y", i * size);
        rect.setAttribute("width", size); rect.setAttribute("height", size);
        rect.setAttribute("fill", c); rect.setAttribute("stroke", "#ffffff"); rect.setAttribute("stroke-width", "0.5");
        var t = document.createElementNS(NS, "title"); t.textContent = "[" + i + ", " + j + "] = " + String(x);
        rect.appendChild(t); svg.appendChild(rect);
      });
    });
    fig.appendChild(svg);
    fig.appendChild(el("figcaption", {}, caption + " " + h.shape.join("×") + (h.sampled ? ", sampled" : "") +
      " (blue < 0 < orange" + (m ? ", |max| " + m.toPrecision(4) : "") + ")"));
    return fig;
  }
  function init(root) {
    if (root.getAttribute("data-gc-ready")) return;
    root.setAttribute("data-gc-ready", "1");
    var data = JSON.parse(root.querySelector("script.gc-data").textContent);
    var steps = data.steps, N = steps.length, pos = 0, pinned = null, now = {};
    var byId = {}; data.nodes.forEach(function (n) { byId[n.id] = n; });
    var byDom = {}; data.nodes.forEach(function (n) { byDom[n.dom] = n; });
    var svgNodes = {}; root.querySelectorAll("g.gc-node").forEach(function (g) { svgNodes[g.getAttribute("data-gc-dom")] = g; });
    var loops = {}; root.querySelectorAll("details.gc-loop").forEach(function (d) { loops[d.getAttribute("data-gc-loop")] = d; });
    var groups = Array.prototype.slice.call(root.querySelectorAll("tbody.gc-loop-rows"));
    function openLoop(dom) { var d = loops[dom]; if (!d) return; d.open = true; if (d.scrollIntoView) d.scrollIntoView({block: "nearest"}); }
    root.querySelectorAll("button[data-gc-open-loop]").forEach(function (b) {
      b.addEventListener("click", function (ev) { openLoop(b.getAttribute("data-gc-open-loop")); ev.stopPropagation(); });
    });
    var edges = Array.prototype.slice.call(root.querySelectorAll("g.gc-edge"));
    var rows = Array.prototype.slice.call(root.querySelectorAll("tr.gc-row"));
    var cells = {}; root.querySelectorAll("td[data-gc-cell]").forEach(function (td) {
      cells[td.getAttribute("data-gc-cell") + ":" + td.getAttribute("data-gc-node")] = td; });
    var posEl = root.querySelector(".gc-pos"), cur = root.querySelector(".gc-current"),
        details = root.querySelector(".gc-details");
    data.problems.forEach(function (p) {
      if (p.dom && svgNodes[p.dom]) svgNodes[p.dom].classList.add("gc-problem");
      if (p.edge) edges.forEach(function (e) {
        if (e.getAttribute("data-gc-src") === p.edge[0] && e.getAttribute("data-gc-dst") === p.edge[1]) e.classList.add("gc-problem"); });
    });
    function showDetails(n, how) {
      details.textContent = "";
      if (!n) { details.appendChild(el("p", {}, "Hover over or focus a node or a row for its details.")); return; }
      details.appendChild(el("h2", {}, n.var + (n.label ? " (" + n.label + ")" : "") + (how ? " — " + how : "")));
      var dl = el("dl");
      function item(k, v) { if (v === null || v === undefined || v === "") return; dl.appendChild(el("dt", {}, k)); dl.appendChild(el("dd", {"data-gc-detail": k}, v)); }
      item("expression", n.kind === "input" ? "input " + n.expr : n.var + " = " + n.expr);
      item("value", n.value_text);
      if (n.shape.length) item("shape", (n.static_shape ? n.static_shape + " = " : "") + "(" + n.shape.join(", ") + ")");
      n.partials.forEach(function (p) {
        var w = byId[p.wrt] ? byId[p.wrt].var : p.wrt;
        item(p.kind === "partial" ? p.symbol : (p.kind === "vjp" ? "VJP to " : "JVP from ") + w,
             p.kind === "partial" ? p.expr + " = " + p.value_text : p.expr);
      });
      if (now["dot:" + n.id]) item("tangent (step " + pos + ")", now["dot:" + n.id].value_text);
      if (n.tangent_text !== null) item("tangent (final)", n.tangent_text);
      if (now["bar:" + n.id]) item("adjoint (step " + pos + ")", now["bar:" + n.id].value_text);
      if (n.adjoint_text !== null) item("adjoint (final)", n.adjoint_text);
      n.flags.forEach(function (f) { item("NaN/inf", f); });
      details.appendChild(dl);
      if (n.heat) details.appendChild(heatmap(n.heat, "value"));
      if (n.tangent_heat) details.appendChild(heatmap(n.tangent_heat, "tangent"));
      if (n.adjoint_heat) details.appendChild(heatmap(n.adjoint_heat, "adjoint"));
    }
    function render() {
      var state = {};
      for (var k = 0; k < pos; k++) {
        var s = steps[k];
        if (s.sets && s.node) state[s.sets + ":" + s.node] = s;
      }
      now = state;
      for (var key in cells) {
        var td = cells[key], s2 = state[key];
        td.textContent = s2 ? s2.value_text : "·";
        td.setAttribute("data-value", s2 && s2.value !== null ? String(s2.value) : "");
        td.classList.remove("gc-changed");
      }
      var st = pos > 0 ? steps[pos - 1] : null;
      rows.forEach(function (r, i) {
        r.classList.toggle("gc-cur", i === pos - 1);
        r.classList.toggle("gc-done", i < pos - 1);
        r.classList.toggle("gc-todo", i >= pos);
        if (i === pos - 1) r.setAttribute("aria-current", "step"); else r.removeAttribute("aria-current");
      });
      var inPrimal = !st || st.section === "primal";
      var computed = {};
      for (var k2 = 0; k2 < pos; k2++) if (steps[k2].section === "primal" && steps[k2].dom) computed[steps[k2].dom] = 1;
      for (var d in svgNodes) {
        var g = svgNodes[d];
        g.classList.toggle("gc-cur", !!st && st.dom === d && st.kind !== "output");
        g.classList.toggle("gc-todo", inPrimal && byDom[d] !== undefined && !computed[d]);
        g.classList.remove("gc-src");
      }
      edges.forEach(function (e) {
        var on = false, a = e.getAttribute("data-gc-src"), b = e.getAttribute("data-gc-dst");
        if (st) {
          if (st.into && b === st.into && (st.kind === "op")) on = true;
          st.edges.forEach(function (p) { if (p[0] === a && p[1] === b) on = true; });
        }
        e.classList.toggle("gc-active", on);
      });
      if (st && st.kind === "output" && st.edges.length) {
        var y = svgNodes[st.edges[0][1]]; if (y) y.classList.add("gc-cur");
      }
      if (st && st.kind === "step" && st.edges.length && svgNodes[st.edges[0][1]]) svgNodes[st.edges[0][1]].classList.add("gc-src");
      groups.forEach(function (t) { t.classList.toggle("gc-loop-cur", !!st && pos > 0 && t.contains(rows[pos - 1])); });
      posEl.textContent = "Step " + pos + " of " + N;
      cur.textContent = "";
      if (!st) {
        cur.appendChild(el("div", {"class": "gc-line"}, "Start: press → (or Next) to run the forward primal sweep" +
          (data.mode === "rev" ? ", then the reverse adjoint sweep." : data.mode === "fwd" ? ", then the tangent sweep." : ".")));
      } else {
        var secName = {primal: "Forward primal sweep", tangent: "Forward tangent sweep", adjoint: "Reverse adjoint sweep"}[st.section];
        cur.appendChild(el("div", {"class": "gc-sec"}, secName + " · row " + (pos) + " of " + N));
        cur.appendChild(el("div", {"class": "gc-line"}, st.text));
        if (st.numbers) cur.appendChild(el("div", {"class": "gc-acc"}, st.lhs + " = " + st.numbers));
        if (st.sets === "bar" && st.node) {
          var nn = byId[st.node];
          cur.appendChild(el("div", {"class": "gc-acc"}, "accumulated " + st.lhs + (nn && nn.label ? " (" + nn.label + ")" : "") + ": " +
            (st.before !== null ? st.before + " → " : "") + st.value_text));
        }
        if (st.flag) cur.appendChild(el("div", {"class": "gc-flag"}, st.flag));
        if (st.heat) cur.appendChild(heatmap(st.heat, st.lhs));
        if (st.sets && st.node && cells[st.sets + ":" + st.node]) cells[st.sets + ":" + st.node].classList.add("gc-changed");
      }
      if (pinned) showDetails(pinned[0], pinned[1]);
      else showDetails(st && st.node ? byId[st.node] : null, st ? "current step" : "");
    }
    function go(p) { pos = Math.max(0, Math.min(N, p)); render(); }
    root.querySelectorAll("button[data-gc-act]").forEach(function (b) {
      b.addEventListener("click", function () {
        var a = b.getAttribute("data-gc-act");
        go(a === "first" ? 0 : a === "prev" ? pos - 1 : a === "next" ? pos + 1 : a === "last" ? N : +a);
      });
    });
    var ban = root.querySelector("button[data-gc-goto]");
    if (ban) ban.addEventListener("click", function () { go(+ban.getAttribute("data-gc-goto") + 1); });
    function hover(node, how) { pinned = [node, how]; showDetails(node, how); }
    function unhover() { pinned = null; render(); }
    Object.keys(svgNodes).forEach(function (d) {
      var g = svgNodes[d], n = byDom[d];
      if (!n) return;
      g.addEventListener("mouseenter", function () { hover(n, "hover"); });
      g.addEventListener("mouseleave", unhover);
      g.addEventListener("focus", function () { hover(n, "focus"); });
      g.addEventListener("blur", unhover);
      function jump() { for (var k = 0; k < N; k++) if (steps[k].node === n.id && steps[k].section === "primal") { go(k + 1); break; } }
      g.addEventListener("click", jump);
      if (loops[d]) g.addEventListener("click", function () { openLoop(d); });
      g.addEventListener("keydown", function (ev) { if (ev.key === "Enter" || ev.key === " ") { jump(); ev.preventDefault(); } });
    });
    rows.forEach(function (r, i) {
      var n = steps[i].node ? byId[steps[i].node] : null;
      r.addEventListener("mouseenter", function () { if (n) hover(n, "row " + (i + 1)); });
      r.addEventListener("mouseleave", unhover);
      r.addEventListener("focus", function () { if (n) hover(n, "row " + (i + 1)); });
      r.addEventListener("blur", unhover);
      r.addEventListener("click", function () { go(i + 1); });
      r.addEventListener("keydown", function (ev) { if (ev.key === "Enter" || ev.key === " ") { go(i + 1); ev.preventDefault(); } });
    });
    var single = document.querySelectorAll(".gc-page").length === 1;
    document.addEventListener("keydown", function (ev) {
      if (ev.altKey || ev.ctrlKey || ev.metaKey) return;
      if (!single && !root.contains(document.activeElement)) return;
      var t = ev.target && ev.target.tagName;
      if (t === "INPUT" || t === "TEXTAREA" || t === "SELECT") return;
      var k = ev.key;
      if (k === "ArrowRight") go(pos + 1); else if (k === "ArrowLeft") go(pos - 1);
      else if (k === "Home") go(0); else if (k === "End") go(N); else return;
      ev.preventDefault();
    });
    render();
  }
  document.querySelectorAll(".gc-page").forEach(init);
})();
"""


def _prefix(data: dict) -> str:
    h = hashlib.sha1(_json_script(data).encode("utf-8")).hexdigest()[:10]
    return f"gc{h}"


def _heading(trace, title: str) -> str:
    """The page heading: the default caption redrawn as mathematics from the graph
    (``f(x₁, x₂) = ln x₁ + x₁ × x₂ − sin x₂ at x₁ = 2, x₂ = 5``, italic variables), as the
    diagram's title is; a caption the user gave, a formula too long, or the formula
    of a graph with loops (packing and ``scan(...)`` text), is printed as given."""
    from .dot import is_default_title  # the diagram's rule for its own title
    try:
        from ..ir import control_flow as cf
        loops = any(cf.is_control(n) for n in trace.graph.operations)
        eq = nt.equations(trace.graph, trace.digits) \
            if is_default_title(trace) and not loops else None   # no formula of a loop
        if eq is None or len(eq.text) > 360:
            return _esc(title)
        at = nt.point(trace.graph, trace.primal, trace.digits)
        math = nt.html_math(eq.text).replace("<I>", "<i>").replace("</I>", "</i>")
        where = nt.html_math(at.text).replace("<I>", "<i>").replace("</I>", "</i>")
        return (f'<span class="gc-math">{math}</span>'
                + (f' <span class="gc-at">at</span> <span class="gc-math">{where}</span>'
                   if at.text else ""))
    except Exception:  # noqa: BLE001 - a heading must never stop the page
        return _esc(title)


def trace_fragment(trace, *, view: str | None = None, digits: int | None = None,
                   **diagram_options) -> str:
    """The interactive trace as an HTML fragment (one ``<div class="gc-page">`` with
    its own ``<style>``, inline SVG, JSON and script), for notebooks and for embedding.

    Args:
        trace: a :class:`graphc.viz.Trace`.
        view: the diagram view (default: by mode, :meth:`Trace.default_view`).
        digits: significant digits (default: the trace's).
        **diagram_options: passed to :meth:`Trace.to_dot` (``hide_constants``,
            ``rankdir``, ``max_nodes``, ``matrix_max``...).

    Returns:
        HTML text. Without Graphviz's ``dot`` program, or for a diagram over
        ``max_nodes``, the page has the tables and a note instead of the diagram.

    Raises:
        GraphcError: an unknown view or options :meth:`Trace.to_dot` rejects.
    """
    from .dot import DiagramTooLargeError
    from .render import render_dot
    data = trace_data(trace, digits)
    prefix = _prefix(data)
    labels = {n["dom"]: _node_label(n) for n in data["nodes"]}
    for o in data["outputs"]:
        labels[o["dom"]] = f"output {o['name']}" + (
            f" = {labels[_dom(o['node'])].split('= ')[-1]}" if o["node"] else "")
    if digits is not None:
        diagram_options.setdefault("digits", digits)
    if data["loops"]:   # bodies are shown folded below the diagram instead
        diagram_options.setdefault("loop_bodies", False)
    try:
        svg_text = render_dot(trace.to_dot(view, **diagram_options), "svg").decode("utf-8")
        diagram = _prepare_svg(svg_text, prefix, labels)
    except DiagramTooLargeError as exc:
        diagram = f'<p class="gc-note">No diagram: {_esc(exc)}</p>'
    except GraphcError as exc:
        if "dot" not in str(exc).lower() and "graphviz" not in str(exc).lower():
            raise
        diagram = f'<p class="gc-note">No diagram: {_esc(exc)}</p>'
    title = data["title"] or "graphc evaluation trace"
    banner = ""
    if data["problems"]:
        p = data["problems"][0]
        goto = (f' <button type="button" data-gc-goto="{p["step"]}">Go to it</button>'
                if p["step"] is not None else "")
        banner = (f'<div class="gc-banner" role="note">⚠ {_esc(p["message"])}{goto}</div>')
    modes = {"rev": "reverse mode: the primal sweep, then the adjoint sweep",
             "fwd": "forward mode: the primal sweep, then the tangent sweep",
             "primal": "the primal sweep"}[data["mode"]]
    controls = (
        '<div class="gc-controls" role="toolbar" aria-label="step through the trace">'
        '<button type="button" data-gc-act="first" aria-label="to the start (Home)">'
        "« Start</button>"
        '<button type="button" data-gc-act="prev" aria-label="step back (left arrow)">'
        "◀ Back</button>"
        '<button type="button" data-gc-act="next" aria-label="step forward (right arrow)">'
        "Next ▶</button>"
        '<button type="button" data-gc-act="last" aria-label="to the end (End)">'
        "End »</button>"
        f'<span class="gc-pos" aria-live="polite">Step 0 of {len(data["steps"])}</span>'
        "</div>")
    return "\n".join([
        f'<div class="gc-page" id="{prefix}" data-gc-mode="{data["mode"]}">',
        f"<style>{_CSS}</style>",
        f"<h1>{_heading(trace, title)}</h1>",
        f'<p class="gc-help">{_esc(modes)}. Keys: <kbd>←</kbd> <kbd>→</kbd> step, '
        "<kbd>Home</kbd> <kbd>End</kbd> start and end, <kbd>Tab</kbd> visits the nodes "
        "and rows (their details show on focus or hover).</p>",
        banner,
        controls,
        '<div class="gc-current" aria-live="polite" aria-atomic="true"></div>',
        '<div class="gc-main">',
        f'<div class="gc-left"><div class="gc-diagram">{diagram}</div>',
        _loop_details(trace, data, prefix),
        '<section class="gc-details" aria-live="polite" aria-label="node details"></section>',
        f"{_values_table(data)}</div>",
        f'<div class="gc-right">{_tables(data)}</div>',
        "</div>",
        f'<script type="application/json" class="gc-data">{_json_script(data)}</script>',
        f"<script>{_JS}</script>",
        "</div>",
    ])


def trace_page(trace, *, view: str | None = None, digits: int | None = None,
               **diagram_options) -> str:
    """The interactive trace as one self-contained HTML document (UTF-8): the fragment
    of :func:`trace_fragment` in a page whose Content-Security-Policy allows no network
    access (``default-src 'none'``; inline styles, scripts and ``data:`` images only).

    Args and errors as :func:`trace_fragment`.
    """
    body = trace_fragment(trace, view=view, digits=digits, **diagram_options)
    title = trace.title or "graphc evaluation trace"
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_esc(title)} · graphc trace</title>\n"
        "<style>body{margin:1em 1.5em}</style>\n"
        f"</head>\n<body>\n{body}\n</body>\n</html>\n")


__all__ = ["HEAT_MAX", "loop_groups", "trace_data", "trace_fragment", "trace_page"]
