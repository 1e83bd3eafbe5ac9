"""The on-disk cache of compiled kernels (LLVM object code).

A new process that compiles a graph it has compiled before loads the machine code from
``$GRAPHC_CACHE_DIR`` (default ``$XDG_CACHE_HOME/graphc``, else ``~/.cache/graphc``)
instead of running LLVM again. Entries are named by a SHA-256 over everything the
object code depends on (the caller's *key parts*: the graph's structural hash, input
names and scalar pattern, the SIMD level; and, added here, the CPU name and features,
the LLVM, Python and graphc versions and a hash of the backend's own source).

Each file is ``MAGIC``, the SHA-256 of the payload, the payload length (8 bytes, little
endian) and the payload (the object file). A file whose magic, length or checksum does
not match (truncated, corrupted, from another format) is never loaded: it is deleted and
rebuilt. Files are written to a temporary name in the same directory and renamed into
place (``os.replace``), so concurrent processes compiling the same graph both succeed and
a reader never sees half a file. When the directory cannot be written (read-only,
no space) the cache silently works in memory only for this process.

Clear it with ``graphc.clear_cache()`` or ``graphc cache clear``; ``GRAPHC_DISK_CACHE=0``
turns it off.
"""

from __future__ import annotations

import hashlib
import os
import platform
import sys
import tempfile
import threading
from pathlib import Path
from typing import Iterable

MAGIC = b"GRAPHC-OBJ\x01\n"
SUFFIX = ".gco"
ENV_DIR = "GRAPHC_CACHE_DIR"
ENV_ENABLE = "GRAPHC_DISK_CACHE"
_HEADER = len(MAGIC) + 32 + 8

_lock = threading.Lock()
_unwritable: set[str] = set()
_source_hash: str | None = None
stats = {"disk_hits": 0, "disk_misses": 0, "disk_writes": 0, "corrupt": 0,
         "write_failures": 0}
"""Counters for this process (tests and ``graphc cache info`` read them)."""


def cache_dir() -> Path:
    """The cache directory: ``$GRAPHC_CACHE_DIR``, else ``$XDG_CACHE_HOME/graphc``, else
    ``~/.cache/graphc`` (it need not exist yet)."""
    env = os.environ.get(ENV_DIR)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "graphc"


def enabled() -> bool:
    """False when ``$GRAPHC_DISK_CACHE`` is ``0``, ``false``, ``no`` or ``off``."""
    value = os.environ.get(ENV_ENABLE, "1").strip().lower()
    return value not in ("0", "false", "no", "off")


def _backend_source_hash() -> str:
    """Hash of this backend's source files: editing the lowering invalidates entries."""
    global _source_hash
    if _source_hash is None:
        h = hashlib.sha256()
        here = Path(__file__).resolve().parent
        for p in sorted(here.glob("*.py")):
            try:
                h.update(p.name.encode() + b"\0" + p.read_bytes())
            except OSError:  # pragma: no cover - installed without sources
                h.update(p.name.encode())
        _source_hash = h.hexdigest()
    return _source_hash


def entry_key(parts: Iterable[str], cpu: str, features: str, llvm_version: str) -> str:
    """The file stem of a cache entry: SHA-256 over the key parts and the environment
    (CPU name and features, LLVM / Python / graphc versions, backend source hash)."""
    from ... import __version__
    h = hashlib.sha256()
    for part in (*parts, cpu, features, llvm_version, platform.machine(),
                 sys.implementation.name, f"{sys.version_info[0]}.{sys.version_info[1]}",
                 __version__, _backend_source_hash()):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


def _path(key: str) -> Path:
    return cache_dir() / (key + SUFFIX)


def pack(payload: bytes) -> bytes:
    """A cache file's bytes for ``payload``."""
    return MAGIC + hashlib.sha256(payload).digest() + len(payload).to_bytes(8, "little") \
        + payload


def unpack(data: bytes) -> bytes | None:
    """The payload of a cache file, or None when it is truncated or corrupted."""
    if len(data) < _HEADER or not data.startswith(MAGIC):
        return None
    digest = data[len(MAGIC):len(MAGIC) + 32]
    size = int.from_bytes(data[len(MAGIC) + 32:_HEADER], "little")
    payload = data[_HEADER:]
    if len(payload) != size or hashlib.sha256(payload).digest() != digest:
        return None
    return payload


def load(key: str) -> bytes | None:
    """The cached object code for ``key``, or None (missing, unreadable or corrupt; a
    corrupt file is removed)."""
    if not enabled():
        return None
    path = _path(key)
    try:
        data = path.read_bytes()
    except OSError:
        stats["disk_misses"] += 1
        return None
    payload = unpack(data)
    if payload is None:
        stats["corrupt"] += 1
        try:
            path.unlink()
        except OSError:
            pass
        return None
    stats["disk_hits"] += 1
    return payload


def store(key: str, payload: bytes) -> bool:
    """Write ``payload`` under ``key`` atomically. Returns False (and stops trying for
    this directory in this process) when the directory cannot be written."""
    if not enabled():
        return False
    directory = cache_dir()
    dkey = str(directory)
    if dkey in _unwritable:
        return False
    tmp = None
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=SUFFIX, dir=directory)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pack(payload))
        os.replace(tmp, _path(key))
        tmp = None
        stats["disk_writes"] += 1
        return True
    except OSError:
        stats["write_failures"] += 1
        with _lock:
            _unwritable.add(dkey)
        return False
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def entries() -> list[Path]:
    """The cache files (and leftover temporary files) in :func:`cache_dir`."""
    d = cache_dir()
    try:
        return sorted(p for p in d.iterdir() if p.name.endswith(SUFFIX))
    except OSError:
        return []


def clear() -> int:
    """Delete every cache file in :func:`cache_dir`; returns how many were removed."""
    removed = 0
    for p in entries():
        try:
            p.unlink()
            removed += 1
        except OSError:
            pass
    with _lock:
        _unwritable.clear()
    return removed
