"""Array Jacobians and Hessians, dense and sparse (graphc.jacobians; issue 15 part 3).

Ground truth from outside graphc: JAX (jax.jacfwd / jax.hessian), and central finite
differences of the primitives' NumPy implementations. Structures are generated
(banded, block-diagonal, arrowhead, random sparse, shifted slices) and the primitive
tables come from the registry.
"""

from __future__ import annotations

import functools
import time

import networkx as nx
import numpy as np
import pytest

import graphc as gc
import graphc.numpy as gnp
from graphc.ir import ops
from graphc.ir.graph import Graph
from graphc.ir.primitive import PRIMITIVES, apply
from graphc import sparse_hessian, sparse_jacobian
from graphc.jacobians import column_coloring, jacobian_sparsity, star_coloring
from helpers import integer_arguments

sp = pytest.importorskip("scipy.sparse")
jax = pytest.importorskip("jax")
jnp = jax.numpy
jax.config.update("jax_enable_x64", True)

DTYPES = ["float64", "float32"]
TOL = {"float64": 1e-9, "float32": 2e-4}


# ---------------------------------------------------------------------------------
# generated sparse structures


def _band(n, b, rng):
    i, j = np.indices((n, n))
    return np.where(np.abs(i - j) <= b, rng.uniform(0.5, 1.5, (n, n)), 0.0)


def _block(n, k, rng):
    A = np.zeros((n, n))
    for s in range(0, n, k):
        A[s:s + k, s:s + k] = rng.uniform(0.5, 1.5, (min(k, n - s),) * 2)
    return A


def _arrow(n, rng):
    A = np.diag(rng.uniform(0.5, 1.5, n))
    A[0, :] = rng.uniform(0.5, 1.5, n)
    A[:, 0] = rng.uniform(0.5, 1.5, n)
    return A


def _random(n, rng):
    A = rng.uniform(0.5, 1.5, (n + 3, n)) * (rng.random((n + 3, n)) < 0.15)
    A[np.arange(n), np.arange(n)] = 1.0  # no empty column
    return A


STRUCTURES = [(kind, seed) for kind in ("band1", "band2", "block", "arrow", "random")
              for seed in range(2)]


def _matrix(kind, seed, n=24):
    rng = np.random.default_rng(seed)
    return {"band1": lambda: _band(n, 1, rng), "band2": lambda: _band(n, 2, rng),
            "block": lambda: _block(n, 4, rng), "arrow": lambda: _arrow(n, rng),
            "random": lambda: _random(n, rng)}[kind]()


def _cpr_valid(pattern, colors):
    """No two columns of one colour share a row."""
    P = sp.csr_matrix(pattern)
    onehot = sp.csr_matrix((np.ones(len(colors)), (np.arange(len(colors)), colors)))
    return (P @ onehot).toarray().max() <= 1


def _star_valid(pattern, colors):
    """Adjacent vertices differ, and every two-coloured subgraph is a star forest
    (no path on four vertices uses only two colours)."""
    P = sp.coo_matrix(pattern)
    G = nx.Graph()
    G.add_nodes_from(range(P.shape[0]))
    G.add_edges_from((i, j) for i, j in zip(P.row, P.col) if i != j)
    if any(colors[u] == colors[v] for u, v in G.edges):
        return False
    for c1 in range(colors.max() + 1):
        for c2 in range(c1 + 1, colors.max() + 1):
            H = G.subgraph([v for v in G if colors[v] in (c1, c2)])
            for comp in nx.connected_components(H):
                T = H.subgraph(comp)
                if T.number_of_edges() and (not nx.is_tree(T) or nx.diameter(T) > 2):
                    return False
    return True


@functools.lru_cache(maxsize=None)
def _jax_sin_Ax(kind, seed):  # shared by both dtypes: JAX's calls dominate the time
    A = _matrix(kind, seed)
    x = np.random.default_rng(seed + 7).uniform(-1, 1, A.shape[1])
    return np.asarray(jax.jacfwd(lambda x: jnp.sin(jnp.asarray(A) @ x))(x))


@functools.lru_cache(maxsize=None)
def _jax_hess_cos_Ax(kind, seed):
    A = _matrix(kind, seed, n=16)
    x = np.random.default_rng(seed).uniform(-1, 1, A.shape[1])
    return np.asarray(jax.hessian(lambda x: jnp.sum(jnp.cos(jnp.asarray(A) @ x))
                                  + jnp.sum(x ** 3))(x))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind,seed", STRUCTURES)
def test_sparse_jacobian_of_sin_Ax_equals_jax(kind, seed, dtype):
    A = _matrix(kind, seed)
    n = A.shape[1]
    f = gc.function(lambda x: gnp.sin(A @ x), shapes={"x": (n,)}, dtype=dtype)
    S = sparse_jacobian(f, target="numpy")
    x = np.random.default_rng(seed + 7).uniform(-1, 1, n)
    want = _jax_sin_Ax(kind, seed)
    got = S(x)
    assert isinstance(got, sp.csr_matrix) and got.shape == want.shape
    np.testing.assert_allclose(got.toarray(), want, atol=TOL[dtype] * 10,
                               rtol=TOL[dtype])
    # the pattern is exactly A's structure (sin' is nonzero at these points)
    assert (S.pattern.toarray() != 0).tolist() == (A != 0).tolist()
    assert S.conservative == []
    assert S.directional.batched is True  # all colours in one kernel call
    assert _cpr_valid(S.pattern, S.colors)
    max_row = int((A != 0).sum(axis=1).max())
    assert S.ncolors >= max_row  # a lower bound for any valid colouring
    if kind.startswith("band"):
        assert S.ncolors <= max_row  # band: the bound is reached (2b + 1)


def _jax_jac(fj, x, _cache={}):  # shared by both dtypes: JAX's calls dominate the time
    key = (fj.__code__, x.tobytes())
    if key not in _cache:
        _cache[key] = np.asarray(jax.jacfwd(fj)(x))
    return _cache[key]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [5, 17, 40])
def test_sparse_jacobian_of_shifted_slices_equals_jax_and_fd(n, dtype):
    def f(x):
        return gnp.sin(x[1:] - x[:-1]) * x[1:] + gnp.exp(0.1 * x[:-1])

    def fj(x):
        return jnp.sin(x[1:] - x[:-1]) * x[1:] + jnp.exp(0.1 * x[:-1])

    g = gc.function(f, shapes={"x": (n,)}, dtype=dtype)
    S = sparse_jacobian(g, target="numpy")
    x = np.random.default_rng(n).uniform(-1, 1, n)
    want = _jax_jac(fj, x)
    np.testing.assert_allclose(S(x).toarray(), want, atol=TOL[dtype] * 10)
    assert S.ncolors == 2 and _cpr_valid(S.pattern, S.colors)
    h = 1e-6
    fd = np.stack([(np.asarray(fj(x + h * e)) - np.asarray(fj(x - h * e))) / (2 * h)
                   for e in np.eye(n)], axis=1)
    np.testing.assert_allclose(S(x).toarray(), fd, atol=1e-6 if dtype == "float64"
                               else 1e-4)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind,seed", STRUCTURES)
def test_sparse_hessian_equals_jax(kind, seed, dtype):
    """f(x) = sum(cos(A x)) + sum(x^3): H = -Aᵀ diag(cos(Ax)) A + diag(6x)."""
    A = _matrix(kind, seed, n=16)
    n = A.shape[1]
    f = gc.function(lambda x: gnp.sum(gnp.cos(A @ x)) + gnp.sum(x ** 3),
                    shapes={"x": (n,)}, dtype=dtype)
    H = sparse_hessian(f, target="numpy")
    x = np.random.default_rng(seed).uniform(-1, 1, n)
    want = _jax_hess_cos_Ax(kind, seed)
    np.testing.assert_allclose(H(x).toarray(), want, atol=TOL[dtype] * 50,
                               rtol=TOL[dtype] * 10)
    true = (np.abs(A.T) @ np.abs(A) + np.eye(n)) != 0
    assert (H.pattern.toarray() != 0).tolist() == true.tolist()
    assert _star_valid(H.pattern, H.colors)
    assert H.ncolors <= n


@functools.lru_cache(maxsize=None)
def _jax_rosen_hessian(n):
    x = np.random.default_rng(0).uniform(-1, 1, n)
    return np.asarray(jax.jit(jax.hessian(
        lambda x: jnp.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)))(x))


@pytest.mark.parametrize("dtype", DTYPES)
def test_rosenbrock_sparse_hessian_n1000(dtype, capsys):
    n = 1000

    def rosen(x):
        return gnp.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)

    f = gc.function(rosen, shapes={"x": (n,)}, dtype=dtype)
    t0 = time.perf_counter()
    H = sparse_hessian(f, target="numpy")
    x = np.random.default_rng(0).uniform(-1, 1, n)
    Hs = H(x)
    t_sparse = time.perf_counter() - t0
    assert H.ncolors <= 3 and H.pattern.nnz == 3 * n - 2
    assert H.directional.batched is True
    want = _jax_rosen_hessian(n)
    tol = TOL[dtype] * 1e3 if dtype == "float32" else 1e-9
    np.testing.assert_allclose(Hs.toarray(), want, atol=tol, rtol=TOL[dtype])
    if dtype == "float64":
        t0 = time.perf_counter()
        Hd = gc.hessian(f, target="numpy")(x)
        t_dense = time.perf_counter() - t0
        np.testing.assert_allclose(Hd, Hs.toarray(), atol=1e-9)
        with capsys.disabled():
            print(f"\n[rosenbrock n=1000] colours {H.ncolors}; sparse {t_sparse:.3f} s "
                  f"(analysis + colouring + {H.ncolors} HVPs), dense {t_dense:.3f} s "
                  f"({n} HVPs)")


# ---------------------------------------------------------------------------------
# registry tables: every primitive


def _fd(fn, xs, h=1e-6):
    """Central differences of fn (flat output) w.r.t. the concatenated flat inputs."""
    flat = np.concatenate([x.ravel() for x in xs])
    sizes = np.cumsum([0] + [x.size for x in xs])

    def call(v):
        parts = [v[sizes[k]:sizes[k + 1]].reshape(xs[k].shape) for k in range(len(xs))]
        return np.asarray(fn(*parts), dtype=np.float64).ravel()
    cols = [(call(flat + h * e) - call(flat - h * e)) / (2 * h)
            for e in np.eye(flat.size)]
    return np.stack(cols, axis=1)


def _sample(prim, k, shape, rng):
    lo, hi = prim.domain[k] if k < len(prim.domain) else (-2.0, 2.0)
    lo, hi = max(lo, -2.0), min(hi, 2.0)
    pad = 0.05 * (hi - lo)
    return rng.uniform(lo + pad, hi - pad, shape)


ARRAY_CASES = [(p.name, i) for p in PRIMITIVES.values() if not p.elementwise
               for i in range(len(p.examples))]


@pytest.mark.parametrize("name,i", ARRAY_CASES)
def test_sparsity_covers_fd_jacobian_of_every_array_primitive(name, i):
    """Soundness of the structural analysis: every entry that finite differences of
    the NumPy implementation find nonzero is in the pattern; for smooth differentiable
    ops the sparse Jacobian equals those differences."""
    prim = PRIMITIVES[name]
    shapes, params = prim.examples[i]
    rng = np.random.default_rng(i)
    xs = [_sample(prim, k, s, rng) for k, s in enumerate(shapes)]
    labels = None  # an argument of integers (labels, indices): held fixed
    for k, (lo, hi) in integer_arguments(prim, shapes, params).items():
        labels, xs[k] = k, rng.integers(lo, hi, shapes[k]).astype(float)
    ins = [ops.variable(f"a{k}", "float64", s) for k, s in enumerate(shapes)]
    out = apply(prim, *ins, **params)
    g = Graph(ins, [out], ["y"])
    wrt = [x.name for k, x in enumerate(ins) if k != labels]
    pattern, conservative = jacobian_sparsity(g, wrt)
    pp = {k: v for k, v in out.params if not k.startswith("_")}

    def fn(*free):
        args = list(free)
        if labels is not None:
            args.insert(labels, xs[labels])
        return prim.impl(*args, **pp)
    fd = _fd(fn, [x for k, x in enumerate(xs) if k != labels])
    found = np.abs(fd) > 1e-7
    assert not (found & (pattern.toarray() == 0)).any()
    if prim.smooth and prim.differentiable and name not in ("one_hot", "size"):
        S = sparse_jacobian(g, wrt, target="numpy")
        np.testing.assert_allclose(S(*xs).toarray(), fd, atol=1e-6)
    exact = {"matmul", "transpose", "reshape", "broadcast_to", "sum", "mean", "prod",
             "reduce_max", "reduce_min", "getitem", "unslice", "concatenate", "softmax",
             "log_softmax", "logsumexp", "mse"}
    if name in exact:
        assert conservative == []


UNARY = [p.name for p in PRIMITIVES.values() if p.elementwise and p.arity == 1
         and p.differentiable and p.smooth and not p.param_names]
BINARY = [p.name for p in PRIMITIVES.values() if p.elementwise and p.arity == 2
          and p.differentiable and p.smooth and not p.param_names]


@pytest.mark.parametrize("mode", ["fwd", "rev"])
@pytest.mark.parametrize("name", UNARY + BINARY)
def test_dense_and_sparse_jacobian_of_every_elementwise_primitive(name, mode):
    """y = p(a[1:], b[:-1]) (binary) or p(a[1:]) * b[:-1] (unary): a two-diagonal
    Jacobian; jacfwd/jacrev (out.shape + in.shape) and sparse_jacobian equal finite
    differences of NumPy, and the pattern has exactly the two diagonals."""
    prim = PRIMITIVES[name]
    n = 5
    rng = np.random.default_rng(len(name))
    a = _sample(prim, 0, (n,), rng)
    b = _sample(prim, 1 if prim.arity == 2 else 0, (n,), rng) if prim.arity == 2 else \
        rng.uniform(0.5, 1.5, n)

    def fnp(a, b):
        if prim.arity == 2:
            return prim.impl(a[1:], b[:-1])
        return prim.impl(a[1:]) * b[:-1]

    A, B = ops.variable("a", "float64", (n,)), ops.variable("b", "float64", (n,))
    y = apply(prim, A[1:], B[:-1]) if prim.arity == 2 else apply(prim, A[1:]) * B[:-1]
    g = Graph([A, B], [y], ["y"])
    fd = _fd(fnp, [a, b])
    fn = gc.jacfwd if mode == "fwd" else gc.jacrev
    f = gc.function(lambda a, b: (apply(prim, a[1:], b[:-1]) if prim.arity == 2
                                  else apply(prim, a[1:]) * b[:-1]),
                    shapes={"a": (n,), "b": (n,)})
    J = fn(f, argnums=(0, 1), target="numpy")(a, b)
    assert J.a.shape == (n - 1, n) and J.b.shape == (n - 1, n)
    np.testing.assert_allclose(np.concatenate([J.a, J.b], axis=1), fd, atol=1e-5,
                               rtol=1e-6)
    S = sparse_jacobian(g, target="numpy")
    np.testing.assert_allclose(S(a, b).toarray(), fd, atol=1e-5, rtol=1e-6)
    want = np.zeros((n - 1, 2 * n), bool)
    want[np.arange(n - 1), np.arange(1, n)] = True
    want[np.arange(n - 1), n + np.arange(n - 1)] = True
    assert (S.pattern.toarray() != 0).tolist() == want.tolist()
    assert S.ncolors == 2


# ---------------------------------------------------------------------------------
# dense array Jacobians: JAX's layout


def _mlp(W, x):
    return gnp.tanh(W @ x), gnp.sum(x ** 2) * W


def _mlp_j(W, x):
    return jnp.tanh(W @ x), jnp.sum(x ** 2) * W


@functools.lru_cache(maxsize=None)
def _jax_mlp(which, argnums):
    rng = np.random.default_rng(3)
    W, x = rng.uniform(-1, 1, (2, 3)), rng.uniform(-1, 1, 3)
    jf = jax.jacrev if which == "jacrev" else jax.jacfwd
    return jf(_mlp_j, argnums=argnums)(W, x)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("which", ["jacfwd", "jacrev", "jacobian"])
@pytest.mark.parametrize("argnums", [0, 1, (0, 1)])
def test_dense_array_jacobians_match_jax(which, argnums, dtype):
    f = gc.function(_mlp, shapes={"W": (2, 3), "x": (3,)}, dtype=dtype)
    rng = np.random.default_rng(3)
    W, x = rng.uniform(-1, 1, (2, 3)), rng.uniform(-1, 1, 3)
    got = getattr(gc, which)(f, argnums=argnums, target="numpy")(W, x)
    want = _jax_mlp(which, argnums)
    flat_g = [g for o in got for g in (o if isinstance(argnums, tuple) else (o,))]
    flat_w = [w for o in want for w in (o if isinstance(argnums, tuple) else (o,))]
    for g_, w_ in zip(flat_g, flat_w, strict=True):
        assert np.shape(g_) == np.shape(w_)
        np.testing.assert_allclose(g_, np.asarray(w_), atol=TOL[dtype] * 10)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dense_hessian_of_arrays_matches_jax(dtype):
    def f(W, x):
        return gnp.sum(gnp.sin(W @ x) * x[0])

    g = gc.function(f, shapes={"W": (2, 3), "x": (3,)}, dtype=dtype)
    rng = np.random.default_rng(5)
    W, x = rng.uniform(-1, 1, (2, 3)), rng.uniform(-1, 1, 3)
    got = gc.hessian(g, argnums=(0, 1), target="numpy")(W, x)
    want = jax.hessian(lambda W, x: jnp.sum(jnp.sin(W @ x) * x[0]), argnums=(0, 1))(W, x)
    for i in range(2):
        for j in range(2):
            assert got[i][j].shape == want[i][j].shape
            np.testing.assert_allclose(got[i][j], want[i][j], atol=TOL[dtype] * 10)
    hf = gc.hessian(g, argnums=1)  # llvm target: one batched kernel, one call
    np.testing.assert_allclose(hf(W, x), want[1][1], atol=TOL[dtype] * 10)
    assert all(d.batched is True for d in hf._directional.values())


def test_scalar_jacobians_unchanged_and_array_ones_refuse_nesting():
    assert gc.jacobian(lambda a, b: a * b)(2.0, 3.0) == pytest.approx(3.0)
    assert gc.hessian(lambda a: a ** 3)(2.0) == pytest.approx(12.0)
    f = gc.function(lambda x: gnp.sum(gnp.sin(x)), shapes={"x": (4,)})
    with pytest.raises(gc.GraphcError, match="cannot be transformed again"):
        gc.grad(gc.jacfwd(f))(np.ones(4))
    with pytest.raises(gc.GraphcError, match="one scalar output"):
        sparse_hessian(gc.function(lambda x: gnp.sin(x), shapes={"x": (3,)}))
    with pytest.raises(gc.GraphcError, match="unknown input"):
        jacobian_sparsity(f.graph, "zz")


def test_conservative_ops_are_reported():
    x = ops.variable("x", "float64", (1, 2, 7))
    w = ops.const(0.5, "float64", (3, 2, 3))
    y = apply(PRIMITIVES["conv"], x, w)
    pattern, cons = jacobian_sparsity(Graph([x], [y], ["y"]))
    assert cons == ["conv"] and pattern.nnz == pattern.shape[0] * pattern.shape[1]


def test_colourings_on_random_graphs_are_valid():
    """Generated random symmetric patterns: the star colouring is a star colouring and
    the CPR colouring a valid column colouring (independent checks with networkx)."""
    for seed in range(6):
        rng = np.random.default_rng(seed)
        n = 30
        P = rng.random((n, n)) < 0.08
        P = P | P.T | np.eye(n, dtype=bool)
        c = star_coloring(sp.csr_matrix(P.astype(np.int8)))
        assert _star_valid(sp.csr_matrix(P.astype(np.int8)), c)
        R = sp.csr_matrix((rng.random((40, n)) < 0.1).astype(np.int8))
        assert _cpr_valid(R, column_coloring(R))
