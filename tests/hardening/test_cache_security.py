"""The on-disk kernel cache runs nobody else's code and survives any file (issue 11).

Planted entries (an old-style checksum, or a genuine entry copied under another
kernel's name), symbolic links, foreign or group/other-writable directories, entries and
keys, tampered bytes and malformed objects carrying a valid MAC are all refused with a
``CacheWarning`` and rebuilt; the kernel still computes its own function (ground truth:
the NumPy interpreter, and the donor's values are checked to differ, so a loaded plant
would fail the test). Malformed objects and byte-flip fuzzing run in a child process:
LLVM's loader aborts on bad objects, so the child's exit status is the check. The size
bound evicts least recently used entries; ``graphc cache info`` reports size and count.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

import graphc as gc
from graphc.backends.llvm import cache, jit
from graphc.ir import PRIMITIVES, GraphcError, apply, ops
from helpers import sample_arguments

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
FOREIGN_UID = 54321
ELF64LE = sys.platform.startswith("linux") and sys.maxsize > 2 ** 32 \
    and sys.byteorder == "little"
OPS = [p for p in PRIMITIVES.values() if p.arity > 0 and p.elementwise]
DTYPES = ["float64", "float32"]


@pytest.fixture
def cdir(tmp_path, monkeypatch):
    d = tmp_path / "kernels"
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(d))
    monkeypatch.delenv("GRAPHC_CACHE_MAX_BYTES", raising=False)
    monkeypatch.delenv("GRAPHC_DISK_CACHE", raising=False)
    jit.clear_memory_cache()
    yield d
    jit.clear_memory_cache()


def _secret(d: Path) -> bytes:
    return (d / cache.KEY_NAME).read_bytes()


def _payload(path: Path) -> bytes:
    out = cache.unpack(path.read_bytes(), path.name[:-len(cache.SUFFIX)],
                       _secret(path.parent))
    assert out is not None
    return out


def _old_format(payload: bytes) -> bytes:
    """A file as graphc <= 0.x wrote it: magic, bare SHA-256, length, payload."""
    return cache.OLD_MAGICS[0] + hashlib.sha256(payload).digest() \
        + len(payload).to_bytes(8, "little") + payload


def _graph(prim, dtype):
    xs = [ops.variable(f"a{i}", dtype) for i in range(prim.arity)]
    return gc.Graph(xs, [apply(prim, *xs)])


def _args(prim, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.uniform(lo, hi, 16).astype(dtype) for lo, hi in prim.domain]


def _compile_new(graph, args) -> tuple[object, Path]:
    """Compile and run ``graph``; returns the kernel and the one entry it wrote."""
    before = set(cache.entries())
    k = gc.compile(graph)
    k(*args)
    new = set(cache.entries()) - before
    assert len(new) == 1, new
    return k, new.pop()


def _source(k, arity):
    return k.specialization((False,) * arity).source


def _refused(record) -> list:
    return [w for w in record if issubclass(w.category, cache.CacheWarning)]


def _make_foreign(path: Path, monkeypatch) -> None:
    """Make ``path`` belong to someone else: chown as root, else pretend to be another
    user (which makes everything foreign)."""
    if os.geteuid() == 0:
        os.chown(path, FOREIGN_UID, -1, follow_symlinks=False)
    else:
        uid = os.geteuid()
        monkeypatch.setattr(os, "geteuid", lambda: uid + 1)


def _close(got, want, dtype):
    rtol = 2e-5 if dtype == "float32" else 1e-11
    return np.allclose(np.asarray(got, np.float64), np.asarray(want, np.float64),
                       rtol=rtol, atol=1e-30, equal_nan=True)


# ---------------------------------------------------------------------------------
# planted entries, generated over every elementwise primitive, both dtypes

@pytest.mark.parametrize("dtype", DTYPES)
def test_planted_entries_are_rebuilt_never_run(cdir, dtype):
    """Every elementwise primitive's entry is replaced by another primitive's object
    code (of the same arity, computing different values), alternately in the old
    checksum format and as a genuine new-format file copied under the wrong name. Each
    kernel must come back compiled, computing its own primitive, with one warning."""
    genuine = {}
    for p in OPS:
        g, args = _graph(p, dtype), _args(p, dtype)
        _, path = _compile_new(g, args)
        payload = _payload(path)
        assert cache.validate_object(payload) is None, p.name   # LLVM's own output
        genuine[p.name] = (path, path.read_bytes(), payload)
    planted = []
    for i, p in enumerate(OPS):
        args = _args(p, dtype)
        want = gc.evaluate(_graph(p, dtype), *args)
        donors = [q for q in OPS[i + 1:] + OPS[:i] if q.arity == p.arity and not _close(
            gc.evaluate(_graph(q, dtype), *args), want, dtype)]
        if donors:
            _, donor_file, donor_payload = genuine[donors[0].name]
        else:   # the only primitive of its arity (where): its arguments rotated
            xs = [ops.variable(f"a{j}", dtype) for j in range(p.arity)]
            swapped = gc.Graph(xs, [apply(p, *xs[1:], xs[0])])
            assert not _close(gc.evaluate(swapped, *args), want, dtype), p.name
            _, donor_path = _compile_new(swapped, args)
            donor_file, donor_payload = donor_path.read_bytes(), _payload(donor_path)
        path = genuine[p.name][0]
        path.write_bytes(_old_format(donor_payload) if i % 2 == 0 else donor_file)
        planted.append((p, want, args))
    jit.clear_memory_cache()
    with pytest.warns(cache.CacheWarning) as record:
        for p, want, args in planted:
            k = gc.compile(_graph(p, dtype))
            got = k(*args)
            assert _source(k, p.arity) == "compiled", p.name
            assert _close(got, want, dtype), p.name
    assert len(_refused(record)) == len(OPS)
    for p, _, _ in planted:       # rewritten genuine and loadable
        assert cache.validate_object(_payload(genuine[p.name][0])) is None


ARRAY_OPS = [p for p in PRIMITIVES.values() if not p.elementwise]


def test_every_array_primitive_program_is_cached_and_validated(cdir):
    """The LLVM array backend's programs pass the object validation too, so the cache
    still serves them: one example of every array primitive, stored, then reloaded."""
    rng = np.random.default_rng(3)
    cases = []
    for p in ARRAY_OPS:
        shapes, params = p.examples[0]
        xs = [ops.variable(f"a{k}", shape=tuple(s)) for k, s in enumerate(shapes)]
        g = gc.Graph(xs, [apply(p, *xs, **params)])
        vals = sample_arguments(p, shapes, params, rng)
        cases.append((p.name, g, vals, np.asarray(gc.compile(g)(*vals))))
    found = cache.entries()
    assert len(found) >= len(ARRAY_OPS) and cache.stats["invalid_objects"] == 0
    for path in found:
        assert cache.validate_object(_payload(path)) is None, path.name
    jit.clear_memory_cache()
    from graphc.backends.llvm import arrays
    arrays._memory.clear()       # the array backend's own in-memory cache
    hits = cache.stats["disk_hits"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", cache.CacheWarning)
        for name, g, vals, want in cases:
            np.testing.assert_array_equal(np.asarray(gc.compile(g)(*vals)), want, name)
    assert cache.stats["disk_hits"] >= hits + len(ARRAY_OPS)


def test_plant_from_the_issue_x_times_2(cdir):
    """The issue's demonstration: ``x*2+99``'s code under ``x*2``'s name."""
    x = np.array([1.0, 2.5, -3.0])
    _, p2 = _compile_new(gc.parse("x*2"), [x])
    _, p99 = _compile_new(gc.parse("x*2+99"), [x])
    for planted in (_old_format(_payload(p99)), p99.read_bytes()):
        p2.write_bytes(planted)
        jit.clear_memory_cache()
        with pytest.warns(cache.CacheWarning, match="recompiling"):
            k = gc.compile(gc.parse("x*2"))
            np.testing.assert_array_equal(k(x), 2 * x)
        assert _source(k, 1) == "compiled"


# ---------------------------------------------------------------------------------
# links, owners, modes

X = np.linspace(-1.0, 1.0, 9)


def _populate(d: Path) -> Path:
    _, path = _compile_new(gc.parse("x*x + 0.75"), [X])
    jit.clear_memory_cache()
    return path


def _fresh_compile(src="x*x + 0.75"):
    k = gc.compile(gc.parse(src))
    np.testing.assert_allclose(k(X), gc.evaluate(gc.parse(src), X), rtol=1e-13)
    return _source(k, 1)


def test_symlinked_directory_is_refused(tmp_path, monkeypatch, cdir):
    _populate(cdir)
    before = {p.name: p.stat().st_mtime_ns for p in cache.entries()}
    link = tmp_path / "link"
    link.symlink_to(cdir)
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(link))
    with pytest.warns(cache.CacheWarning, match="symbolic link"):
        assert _fresh_compile() == "compiled"
        assert _fresh_compile("x + 0.25") == "compiled"   # nothing written through it
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(cdir))
    assert {p.name: p.stat().st_mtime_ns for p in cache.entries()} == before


@pytest.mark.parametrize("how", ["group-writable", "other-writable", "foreign-owner"])
def test_shared_or_foreign_directory_is_refused(cdir, monkeypatch, how):
    _populate(cdir)
    names = {p.name for p in cache.entries()}
    if how == "group-writable":
        cdir.chmod(0o770)
    elif how == "other-writable":
        cdir.chmod(0o703)
    else:
        _make_foreign(cdir, monkeypatch)
    with pytest.warns(cache.CacheWarning, match="refusing cache directory"):
        assert _fresh_compile() == "compiled"
        assert _fresh_compile("x + 0.25") == "compiled"
    assert {p.name for p in cache.entries()} == names
    from graphc.cli import main
    import io
    import contextlib
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["cache", "info"]) == 0
    assert "refused:" in out.getvalue()


@pytest.mark.parametrize("how", ["symlink", "foreign-owner", "group-writable", "fifo",
                                 "directory"])
def test_refused_entries_are_rebuilt(tmp_path, cdir, monkeypatch, how):
    path = _populate(cdir)
    if how == "symlink":
        outside = tmp_path / "outside.gco"
        path.rename(outside)
        path.symlink_to(outside)
    elif how == "foreign-owner":
        if os.geteuid() != 0:
            pytest.skip("chown to another user needs root")
        os.chown(path, FOREIGN_UID, -1)
    elif how == "group-writable":
        path.chmod(0o660)
    elif how == "fifo":
        path.unlink()
        os.mkfifo(path)
    else:
        path.unlink()
        path.mkdir()
    with pytest.warns(cache.CacheWarning, match="recompiling"):
        assert _fresh_compile() == "compiled"
    if how == "directory":       # cannot be unlinked: left alone, never loaded
        return
    assert path.is_file() and not path.is_symlink()
    assert cache.validate_object(_payload(path)) is None
    if how == "symlink":
        assert (tmp_path / "outside.gco").exists()     # the link's target untouched
    jit.clear_memory_cache()
    assert _fresh_compile() == "disk"


@pytest.mark.parametrize("how", ["group-readable", "other-readable", "foreign-owner",
                                 "symlink", "short"])
def test_refused_key_turns_the_disk_cache_off(tmp_path, cdir, monkeypatch, how):
    _populate(cdir)
    key = cdir / cache.KEY_NAME
    if how == "group-readable":
        key.chmod(0o640)
    elif how == "other-readable":
        key.chmod(0o604)
    elif how == "foreign-owner":
        if os.geteuid() != 0:
            pytest.skip("chown to another user needs root")
        os.chown(key, FOREIGN_UID, -1)
    elif how == "symlink":
        elsewhere = tmp_path / "key"
        elsewhere.write_bytes(key.read_bytes())
        elsewhere.chmod(0o600)
        key.unlink()
        key.symlink_to(elsewhere)
    else:
        key.write_bytes(b"short")
    monkeypatch.setattr(cache, "_keys", {})        # a new process
    names = {p.name for p in cache.entries()}
    with pytest.warns(cache.CacheWarning, match="key"):
        assert _fresh_compile() == "compiled"
        assert _fresh_compile("x + 0.25") == "compiled"
    assert {p.name for p in cache.entries()} == names


def test_new_key_is_private_and_made_once(cdir):
    _populate(cdir)
    key = cdir / cache.KEY_NAME
    st = key.lstat()
    assert oct(st.st_mode & 0o777) == oct(0o600) and st.st_size == cache.KEY_BYTES
    assert oct(cdir.stat().st_mode & 0o777) == oct(0o700)
    first = key.read_bytes()
    _fresh_compile("x + 0.125")
    assert key.read_bytes() == first


# ---------------------------------------------------------------------------------
# tampering and malformed objects

def test_tampered_bytes_anywhere_are_rebuilt(cdir):
    path = _populate(cdir)
    good = path.read_bytes()
    n = len(good)
    for i in (0, len(cache.MAGIC) + 5, len(cache.MAGIC) + 33, cache._HEADER + 1,
              (cache._HEADER + n) // 2, n - 1):
        path.write_bytes(good[:i] + bytes([good[i] ^ 0x10]) + good[i + 1:])
        jit.clear_memory_cache()
        with pytest.warns(cache.CacheWarning, match="not authenticated"):
            assert _fresh_compile() == "compiled"
        assert path.read_bytes() != good[:i] + bytes([good[i] ^ 0x10]) + good[i + 1:]


def test_mac_binds_key_name_and_payload():
    secret, other = os.urandom(32), os.urandom(32)
    payload = os.urandom(1000)
    good = cache.pack(payload, "abc", secret)
    assert cache.unpack(good, "abc", secret) == payload
    assert cache.unpack(good, "abd", secret) is None
    assert cache.unpack(good, "abc", other) is None
    assert cache.unpack(good[:-1], "abc", secret) is None
    assert cache.unpack(good + b"x", "abc", secret) is None
    assert cache.unpack(_old_format(payload), "abc", secret) is None


def _sections(obj: bytes) -> list[tuple[int, tuple]]:
    """[(header offset, (name, type, flags, addr, offset, size, link, info, align,
    entsize))] of an ELF64 little-endian object (a reader written for this test)."""
    shoff, = struct.unpack_from("<Q", obj, 0x28)
    shnum, = struct.unpack_from("<H", obj, 0x3C)
    return [(shoff + 64 * i, struct.unpack_from("<IIQQQQIIQQ", obj, shoff + 64 * i))
            for i in range(shnum)]


def _put(obj: bytes, offset: int, fmt: str, value) -> bytes:
    b = bytearray(obj)
    struct.pack_into(fmt, b, offset, value)
    return bytes(b)


def _first(obj, typ, flag=0):
    return next((h, s) for h, s in _sections(obj) if s[1] == typ and s[2] & flag == flag
                and (typ != 1 or s[5] > 0))


def _symbols(obj) -> list[tuple[int, tuple]]:
    """[(entry offset, (name, info, other, shndx, value, size))] of the symbol table."""
    _, symtab = _first(obj, 2)
    return [(symtab[4] + 24 * k, struct.unpack_from("<IBBHQQ", obj, symtab[4] + 24 * k))
            for k in range(1, symtab[5] // 24)]


def _defined_symbol(obj) -> int:
    return next(at for at, s in _symbols(obj) if 0 < s[3] < 0xFF00 and s[1] & 0xF == 2)


def _file_symbol(obj) -> int:
    return next(k for k, (_, s) in enumerate(_symbols(obj), 1) if s[1] & 0xF == 4)


def _undefined_symbol(obj) -> int:
    return next(at for at, s in _symbols(obj) if s[3] == 0 and s[1] >> 4)


def _undefined_name_offset(obj) -> int | None:
    _, symtab = _first(obj, 2)
    strtab = _sections(obj)[symtab[6]][1]
    return next((strtab[4] + s[0] for _, s in _symbols(obj) if s[3] == 0 and s[1] >> 4),
                None)


def _mutations(obj: bytes) -> dict[str, bytes]:
    """Malformed variants of a genuine object: each breaks one structural rule."""
    h_sym, symtab = _first(obj, 2)
    h_text, _ = _first(obj, 1, 0x4)
    _, rela = _first(obj, 4)
    out = {
        "truncated": obj[: len(obj) // 2],
        "empty": b"",
        "not ELF": b"\x7fELG" + obj[4:],
        "ET_EXEC": _put(obj, 0x10, "<H", 2),
        "other machine": _put(obj, 0x12, "<H", 183 if obj[0x12] == 62 else 62),
        "32-bit class": obj[:4] + b"\x01" + obj[5:],
        "section table past the end": _put(obj, 0x28, "<Q", len(obj) - 8),
        "symtab past the end": _put(obj, h_sym + 24, "<Q", len(obj)),
        "symtab entry size": _put(obj, h_sym + 56, "<Q", (1 << 30) + 24),
        "symtab linked to code": _put(obj, h_sym + 40, "<I", _sections(obj).index(
            next(x for x in _sections(obj) if x[0] == h_text))),
        "TLS code section": _put(obj, h_text + 8, "<Q", _first(obj, 1, 0x4)[1][2] | 0x400),
        "huge alignment": _put(obj, h_text + 48, "<Q", 1 << 40),
        "relocation type": _put(obj, rela[4] + 8, "<Q", (struct.unpack_from(
            "<Q", obj, rela[4] + 8)[0] & ~0xFFFFFFFF) | 0x7F),
        "relocation outside its section": _put(obj, rela[4], "<Q", 1 << 40),
        "relocation symbol": _put(obj, rela[4] + 8, "<Q", (1 << 40) | 1),
        "relocation against the null symbol": _put(obj, rela[4] + 8, "<Q", 1),
        "relocation against a file symbol": _put(obj, rela[4] + 8, "<Q",
                                                 (_file_symbol(obj) << 32) | 1),
        "16-bit relocation": _put(obj, rela[4] + 8, "<Q", (struct.unpack_from(
            "<Q", obj, rela[4] + 8)[0] & ~0xFFFFFFFF) | 12),
        "symbol outside its section": _put(obj, _defined_symbol(obj) + 8, "<Q", 1 << 40),
        "undefined symbol with a value": _put(obj, _undefined_symbol(obj) + 8, "<Q", 64),
    }
    return out


def _genuine_object() -> bytes:
    k = gc.compile(gc.value_and_grad(gc.parse("sqrt(x^2 + exp(x^2)) + cos(x)")))
    k(2.0)
    return k.specialization((True,)).object_code


@pytest.mark.skipif(not ELF64LE, reason="the mutations are written for ELF64 LE hosts")
def test_validation_rejects_every_structural_mutation(cdir):
    obj = _genuine_object()
    assert cache.validate_object(obj) is None
    for name, bad in _mutations(obj).items():
        assert cache.validate_object(bad) is not None, name


def _malformed_child() -> None:
    """Child process: for each mutation, write it under the kernel's own name with the
    real key, compile, check the value; print a JSON summary. A crash is the failure."""
    warnings.simplefilter("always")
    src = "sqrt(x^2 + exp(x^2)) + cos(x)"
    obj = _genuine_object()
    (path,) = cache.entries()
    key, secret = path.name[:-len(cache.SUFFIX)], _secret(path.parent)
    variants = _mutations(obj)
    at = _undefined_name_offset(obj)
    if at is not None:
        variants["unresolvable symbol"] = obj[:at] + b"Q" + obj[at + 1:]
    results = {}
    for name, bad in variants.items():
        path.write_bytes(cache.pack(bad, key, secret))
        jit.clear_memory_cache()
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            k = gc.compile(gc.value_and_grad(gc.parse(src)))
            y, (g,) = k(2.0)
        results[name] = {"source": k.specialization((True,)).source, "y": float(y),
                         "warned": len(_refused(rec))}
    print(json.dumps(results))


def _run_child(func: str, cache_dir: Path, *args: str, env_extra=None):
    env = dict(os.environ, GRAPHC_CACHE_DIR=str(cache_dir),
               PYTHONPATH=os.pathsep.join([str(ROOT), str(HERE), str(HERE.parent),
                                           os.environ.get("PYTHONPATH", "")]))
    env.update(env_extra or {})
    code = f"import test_cache_security as t; t.{func}({', '.join(args)})"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.skipif(not ELF64LE, reason="the mutations are written for ELF64 LE hosts")
def test_malformed_objects_with_a_valid_mac_never_reach_llvm(cdir):
    out = _run_child("_malformed_child", cdir)
    assert out.returncode == 0, out.stderr[-2000:]
    results = json.loads(out.stdout.strip().splitlines()[-1])
    want = float(gc.evaluate(gc.parse("sqrt(x^2 + exp(x^2)) + cos(x)"), 2.0))
    assert len(results) >= 16
    for name, r in results.items():
        assert r["source"] == "compiled" and r["warned"] == 1, name
        assert r["y"] == pytest.approx(want, rel=1e-12), name


def _bypass_child() -> None:
    """Child: hand a malformed object straight to LLVM (what the cache used to do)."""
    obj = _genuine_object()
    bad = _mutations(obj)["symtab past the end"]
    try:
        jit.CompiledModule(bad, True)
    except Exception:  # noqa: BLE001 - LLVM reporting it politely would also do
        print("raised")


@pytest.mark.skipif(not ELF64LE, reason="the mutations are written for ELF64 LE hosts")
def test_llvm_itself_would_die_on_such_an_object(cdir):
    """Why the validation exists: LLVM's loader kills the process on one of the
    mutations above (if a future LLVM raises instead, the check is merely redundant)."""
    out = _run_child("_bypass_child", cdir)
    assert out.returncode != 0 or "raised" in out.stdout
    if out.returncode != 0:
        assert "LLVM ERROR" in out.stderr or out.returncode < 0


def _fuzz_child(n: str) -> None:
    """Child: hypothesis-driven byte flips of a real entry, (a) of the file as stored
    (the MAC must refuse every one) and (b) of the object re-signed with the real key
    (validation, then LLVM's loader; never executed). Prints counts; a crash fails."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    warnings.simplefilter("ignore")
    obj = _genuine_object()
    (path,) = cache.entries()
    key, secret = path.name[:-len(cache.SUFFIX)], _secret(path.parent)
    stored = path.read_bytes()
    counts = {"file": 0, "signed": 0, "signed_valid": 0, "loaded": 0}
    def flips(n):
        return st.lists(st.tuples(st.integers(0, n - 1), st.integers(1, 255)),
                        min_size=1, max_size=4, unique_by=lambda t: t[0])
    opts = settings(max_examples=int(n), derandomize=True, database=None, deadline=None,
                    suppress_health_check=list(HealthCheck))

    def flip(data, fl):
        b = bytearray(data)
        for i, x in fl:
            b[i] ^= x
        return bytes(b)

    @opts
    @given(flips(len(stored)))
    def whole_file(fl):
        path.write_bytes(flip(stored, fl))
        assert cache.load(key) is None
        counts["file"] += 1

    @opts
    @given(flips(len(obj)))
    def signed(fl):
        path.write_bytes(cache.pack(flip(obj, fl), key, secret))
        got = cache.load(key)
        counts["signed"] += 1
        if got is None:
            return
        counts["signed_valid"] += 1
        try:
            jit.CompiledModule(got, True)
            counts["loaded"] += 1
        except Exception:  # noqa: BLE001 - a polite error is fine, a crash is not
            pass

    whole_file()
    signed()
    path.write_bytes(stored)
    jit.clear_memory_cache()
    k = gc.compile(gc.value_and_grad(gc.parse("sqrt(x^2 + exp(x^2)) + cos(x)")))
    counts["y"] = float(k(2.0)[0])
    print(json.dumps(counts))


@pytest.mark.parametrize("n", [pytest.param(80, id="80"),
                               pytest.param(2000, id="2000", marks=pytest.mark.slow)])
def test_byte_flip_fuzz_never_crashes(cdir, n):
    out = _run_child("_fuzz_child", cdir, str(n))
    assert out.returncode == 0, out.stderr[-2000:]
    counts = json.loads(out.stdout.strip().splitlines()[-1])
    assert counts["file"] >= n // 2 and counts["signed"] >= n // 2
    assert counts["signed_valid"] > 0      # some flips did reach LLVM's loader
    want = float(gc.evaluate(gc.parse("sqrt(x^2 + exp(x^2)) + cos(x)"), 2.0))
    assert counts["y"] == pytest.approx(want, rel=1e-12)


# ---------------------------------------------------------------------------------
# size bound and `graphc cache info`

def _sizes(d: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in d.iterdir()
            if p.name.endswith(cache.SUFFIX) and not p.name.startswith(".")}


def test_lru_eviction_keeps_the_cache_under_its_bound(cdir, monkeypatch):
    monkeypatch.setenv("GRAPHC_CACHE_MAX_BYTES", "10K")
    assert cache.max_bytes() == 10240
    paths, evicted_at = [], {}
    for step in range(14):
        _, p = _compile_new(gc.parse(f"x*x + {step}.5"), [X])
        paths.append(p)
        assert sum(_sizes(cdir).values()) <= 10240
        for i, q in enumerate(paths):
            if not q.exists():
                evicted_at.setdefault(i, step)
        if step == 3:     # use kernel 0 again (from disk): it becomes the most recent
            time.sleep(0.02)
            jit.clear_memory_cache()
            assert _fresh_compile("x*x + 0.5") == "disk"
        time.sleep(0.02)
    assert cache.stats["evictions"] > 0 and paths[-1].exists()
    assert len(evicted_at) >= 6
    order = sorted(evicted_at, key=lambda i: (evicted_at[i], i))
    # least recently used first: 1, 2, 3, then 0 (used at step 3), then 4, 5, ...
    assert evicted_at[1] <= evicted_at[2] <= evicted_at[3] <= evicted_at[0] \
        <= evicted_at[4], order
    assert [i for i in order if i >= 4] == sorted(i for i in order if i >= 4)


@pytest.mark.parametrize("value,expect", [("0", 0), ("123", 123), ("4k", 4096),
                                          ("2M", 2 << 20), ("1GiB", 1 << 30),
                                          ("", cache.DEFAULT_MAX_BYTES)])
def test_max_bytes_setting(monkeypatch, value, expect):
    monkeypatch.setenv("GRAPHC_CACHE_MAX_BYTES", value)
    assert cache.max_bytes() == expect


@pytest.mark.parametrize("value", ["-1", "lots", "1.5M", "12 parsecs"])
def test_bad_max_bytes_is_a_clear_error(cdir, monkeypatch, capsys, value):
    from graphc.cli import main
    monkeypatch.setenv("GRAPHC_CACHE_MAX_BYTES", value)
    with pytest.raises(GraphcError, match="GRAPHC_CACHE_MAX_BYTES"):
        gc.compile(gc.parse("x + 0.5"))(1.0)
    assert main(["cache", "info"]) == 2
    err = capsys.readouterr().err.strip()
    assert "GRAPHC_CACHE_MAX_BYTES" in err and len(err.splitlines()) == 1


def test_zero_bound_stores_nothing(cdir, monkeypatch):
    monkeypatch.setenv("GRAPHC_CACHE_MAX_BYTES", "0")
    assert _fresh_compile() == "compiled"
    assert cache.entries() == []


def test_cache_info_prints_size_and_count(cdir, monkeypatch, capsys):
    from graphc.cli import main
    monkeypatch.setenv("GRAPHC_CACHE_MAX_BYTES", "3M")
    for i in range(3):
        _compile_new(gc.parse(f"x - {i}.25"), [X])
    sizes = _sizes(cdir)
    assert main(["cache", "info"]) == 0
    out = capsys.readouterr().out
    assert "disk cache: on" in out
    assert f"kernels:   {len(sizes)}" in out and len(sizes) == 3
    assert f"bytes:     {sum(sizes.values())}" in out
    assert f"limit:     {3 << 20} bytes" in out
