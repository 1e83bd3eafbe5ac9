"""graphc's implementations of the GradBench evals, one module per eval.

Each module's ``FUNCTIONS`` maps a GradBench function name to ``prepare(input) ->
(run, post)`` (see ``benchmarks/gradbench/graphc_tool.py``). Functions are written with
graphc's public API only (``gc.parse`` with array shapes, ``gc.grad``/``gc.jvp``/
``gc.vjp``, ``gc.compile``); every derivative comes from graphc's AD. Kernels are built
once per module with symbolic dimensions and cached.
"""
