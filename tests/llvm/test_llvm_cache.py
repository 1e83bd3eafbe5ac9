"""The kernel caches: in memory (same graph structure, same process), on disk (new
processes), corrupted or truncated files, unwritable directories, concurrent writers,
clearing (API and CLI). Planted, foreign and malformed entries, links, the size bound:
tests/hardening/test_cache_security.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import graphc as gc
from graphc.backends.llvm import cache, jit

SRC = "sqrt(x^2 + exp(x^2)) + cos(x^2 + exp(x^2))"
ROOT = Path(__file__).resolve().parents[2]

# A child process: compile value_and_grad of an expression, report where the kernel
# came from and its value at x = 2 (Deisenroth et al.: f = 7.194, df/dx = -182.87).
CHILD = """
import json, sys
import graphc as gc
k = gc.compile(gc.value_and_grad(gc.parse(sys.argv[1])))
y, (g,) = k(2.0)
print(json.dumps({"source": k.specialization((True,)).source, "y": float(y),
                  "g": float(g)}))
"""


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    d = tmp_path / "kernels"
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(d))
    jit.clear_memory_cache()
    yield d
    jit.clear_memory_cache()


def _unpack(path: Path) -> bytes | None:
    """The payload of cache file ``path``, authenticated with its directory's key."""
    secret = (path.parent / cache.KEY_NAME).read_bytes()
    return cache.unpack(path.read_bytes(), path.name[:-len(cache.SUFFIX)], secret)


def _child(src: str, cache_dir: Path) -> dict:
    env = dict(os.environ, GRAPHC_CACHE_DIR=str(cache_dir),
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", CHILD, src], env=env, capture_output=True,
                         text=True, check=True, timeout=120)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_equal_graphs_hit_the_memory_cache(cache_dir):
    k1 = gc.compile(gc.value_and_grad(gc.parse(SRC)))
    k1(np.linspace(-1, 1, 10))
    hits = jit.memory_stats["hits"]
    k2 = gc.compile(gc.value_and_grad(gc.parse(SRC)))   # rebuilt from text: equal, new
    k2(np.linspace(-1, 1, 10))
    assert jit.memory_stats["hits"] == hits + 1
    assert k2.specialization((False,)) is k1.specialization((False,))
    other = gc.compile(gc.value_and_grad(gc.parse(SRC.replace("cos", "sin"))))
    other(np.linspace(-1, 1, 10))
    assert other.specialization((False,)) is not k1.specialization((False,))


def test_new_process_loads_from_disk(cache_dir):
    first = _child(SRC, cache_dir)
    second = _child(SRC, cache_dir)
    assert first["source"] == "compiled" and second["source"] == "disk"
    assert first["y"] == second["y"] == pytest.approx(7.194, abs=5e-4)
    assert first["g"] == second["g"] == pytest.approx(-182.87, abs=5e-3)
    assert len(cache.entries()) == 1


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty", "garbage"])
def test_damaged_files_are_rebuilt_never_loaded(cache_dir, damage):
    _child(SRC, cache_dir)
    (path,) = cache.entries()
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        mid = len(data) - 100
        path.write_bytes(data[:mid] + bytes([data[mid] ^ 0x40]) + data[mid + 1:])
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        path.write_bytes(os.urandom(len(data)))
    again = _child(SRC, cache_dir)
    assert again["source"] == "compiled"
    assert again["y"] == pytest.approx(7.194, abs=5e-4)
    assert _unpack(path) is not None    # rewritten, valid
    assert _child(SRC, cache_dir)["source"] == "disk"


def test_checksum_detects_every_kind_of_damage():
    payload, secret = os.urandom(1000), os.urandom(32)
    good = cache.pack(payload, "k", secret)
    assert cache.unpack(good, "k", secret) == payload
    assert cache.unpack(good[:-1], "k", secret) is None
    assert cache.unpack(good + b"x", "k", secret) is None
    assert cache.unpack(b"", "k", secret) is None
    assert cache.unpack(b"X" + good[1:], "k", secret) is None
    for i in range(len(good)):       # every single byte
        assert cache.unpack(good[:i] + bytes([good[i] ^ 1]) + good[i + 1:], "k",
                            secret) is None


def test_unwritable_directory_falls_back_to_memory(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(blocker / "kernels"))
    jit.clear_memory_cache()
    k = gc.compile(gc.parse("x*x + 3.25"))
    assert float(k(2.0)) == 7.25
    assert k.specialization((True,)).source == "compiled"
    assert cache.entries() == []
    k2 = gc.compile(gc.parse("x*x + 3.25"))       # still served from memory
    assert float(k2(2.0)) == 7.25
    assert k2.specialization((True,)) is k.specialization((True,))


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root can write to read-only directories")
def test_read_only_directory_falls_back_to_memory(cache_dir):
    cache_dir.mkdir(parents=True)
    cache_dir.chmod(0o500)
    try:
        k = gc.compile(gc.parse("x*x + 4.5"))
        assert float(k(2.0)) == 8.5
        assert cache.entries() == []
    finally:
        cache_dir.chmod(0o700)


def test_concurrent_processes_compiling_the_same_graph(cache_dir):
    env = dict(os.environ, GRAPHC_CACHE_DIR=str(cache_dir),
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, SRC + " + x"], env=env,
                              stdout=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    ys = {json.loads(o.strip().splitlines()[-1])["y"] for o in outs}
    assert len(ys) == 1
    files = cache.entries()
    assert len(files) == 1 and _unpack(files[0]) is not None
    assert not [p for p in cache_dir.iterdir() if p.name.startswith(".tmp-")]


def test_clear_cache_api_and_cli(cache_dir, capsys):
    from graphc.cli import main
    gc.compile(gc.parse("x + 1.5"))(1.0)
    gc.compile(gc.parse("x + 2.5"))(1.0)
    assert len(cache.entries()) == 2
    assert main(["cache", "info"]) == 0
    assert "kernels:   2" in capsys.readouterr().out
    assert main(["cache", "clear"]) == 0
    assert "removed 2" in capsys.readouterr().out
    assert cache.entries() == []
    k = gc.compile(gc.parse("x + 1.5"))
    assert float(k(1.0)) == 2.5
    assert gc.clear_cache() == 1
    assert main(["cache", "dir"]) == 0
    assert capsys.readouterr().out.strip() == str(cache_dir)


def test_disk_cache_can_be_turned_off(cache_dir, monkeypatch):
    monkeypatch.setenv("GRAPHC_DISK_CACHE", "0")
    assert float(gc.compile(gc.parse("x + 7.5"))(1.0)) == 8.5
    assert cache.entries() == []
