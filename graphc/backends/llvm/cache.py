"""The on-disk cache of compiled kernels (LLVM object code), hardened against planted,
tampered and malformed files.

A new process that compiles a graph it has compiled before loads the machine code from
``$GRAPHC_CACHE_DIR`` (default ``$XDG_CACHE_HOME/graphc``, else ``~/.cache/graphc``)
instead of running LLVM again. Entries are named by a SHA-256 over everything the
object code depends on (the caller's *key parts*: the graph's structural hash, input
names and scalar pattern, the SIMD level; and, added here, the CPU name and features,
the LLVM, Python and graphc versions and a hash of the backend's own source).

Loading a file means running its code, so nothing is loaded that this user's graphc did
not write:

* **Directory.** The cache directory is created ``0700``; it is opened with
  ``O_NOFOLLOW`` (a symbolic link is refused) and refused unless it is owned by the
  effective user and not writable by group or others. Every later file operation is
  relative to that open directory descriptor, so swapping the path afterwards changes
  nothing. A refused directory gives one warning (:class:`CacheWarning`) per process and
  kernels are compiled without the disk cache.
* **Key.** ``.graphc-cache-key`` in that directory holds 32 random bytes (``secrets``),
  created once ``0600`` with ``O_CREAT | O_EXCL | O_NOFOLLOW`` under a temporary name
  and published with ``link`` (so a concurrent reader never sees a short key). It is
  refused (disk cache off, one warning) unless it is a regular file of this user that
  group and others can neither read nor write.
* **Entries.** Each file is ``MAGIC``, an HMAC-SHA256 (RFC 2104) with that key over
  ``MAGIC``, the entry's name, the payload length and the payload, the payload length
  (8 bytes, little endian) and the payload (the object file). Binding the name means a
  valid entry copied under another kernel's name is refused too. Entries are opened with
  ``O_NOFOLLOW | O_NONBLOCK`` and must be regular files of this user not writable by
  group or others, no larger than the cache bound.
* **Object file.** An authenticated payload must still parse as an ELF relocatable
  object for this machine (:func:`validate_object`: class, byte order, ``ET_REL``,
  ``e_machine``, section and symbol tables within the file and consistent, relocation
  types the JIT linker implements, targets within their sections), and every symbol it
  leaves undefined must resolve in this process, before LLVM sees it: LLVM's loader
  trusts its input and a malformed object can kill the process.

A file failing any check is deleted and rebuilt with a one-line :class:`CacheWarning`,
never loaded. Files are written to a temporary name in the directory and renamed into
place (``os.replace``), so concurrent processes compiling the same graph both succeed
and a reader never sees half a file. When the directory cannot be written (read-only,
no space) the cache works in memory only for this process.

**Size.** The cache holds at most ``$GRAPHC_CACHE_MAX_BYTES`` bytes (default
:data:`DEFAULT_MAX_BYTES`, 256 MiB; suffixes ``K``, ``M``, ``G`` are powers of 1024).
A load marks an entry used (its modification time); when a write takes the cache over
the bound, the least recently used entries are deleted until it is back under 90 % of
it. Each process scans the directory for its size on its first write, when its running
count passes the bound and every 64 writes, not on every write. Temporary files left by
killed processes are removed after an hour.

Clear it with ``graphc.clear_cache()`` or ``graphc cache clear``; ``graphc cache info``
shows its size, count and bound; ``GRAPHC_DISK_CACHE=0`` turns it off. On systems
without ``O_NOFOLLOW``, ``dir_fd`` support or user ids (Windows) the disk cache is off.
This module imports no LLVM code (``graphc cache`` and ``graphc.clear_cache`` use it).
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import os
import platform
import re
import secrets
import stat
import struct
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Iterable

from ...ir import GraphcError
from ...ir.errors import CacheWarning  # noqa: F401  (re-exported: cache.CacheWarning)

MAGIC = b"GRAPHC-OBJ\x02\n"
OLD_MAGICS = (b"GRAPHC-OBJ\x01\n",)
"""Formats of earlier graphc versions (a bare SHA-256 checksum): refused, rebuilt."""
SUFFIX = ".gco"
TMP_PREFIX = ".tmp-"
KEY_NAME = ".graphc-cache-key"
KEY_BYTES = 32
ENV_DIR = "GRAPHC_CACHE_DIR"
ENV_ENABLE = "GRAPHC_DISK_CACHE"
ENV_MAX = "GRAPHC_CACHE_MAX_BYTES"
DEFAULT_MAX_BYTES = 256 << 20
"""Default bound on the cache's total size in bytes (256 MiB, ~10⁵ scalar kernels)."""
LOW_WATER = 0.9
"""Eviction brings the cache down to this fraction of the bound."""
STALE_TMP_SECONDS = 3600
RESCAN_EVERY = 64
"""Writes between two scans of the directory for its size (see :func:`store`)."""
_HEADER = len(MAGIC) + 32 + 8

_SUPPORTED = (hasattr(os, "O_NOFOLLOW") and hasattr(os, "O_DIRECTORY")
              and hasattr(os, "geteuid") and os.open in os.supports_dir_fd
              and os.scandir in os.supports_fd and os.unlink in os.supports_dir_fd)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)

_lock = threading.Lock()
_unwritable: set[str] = set()
_warned: set[tuple] = set()
_keys: dict[tuple[int, int], bytes] = {}
_usage: dict[tuple[int, int], list[int]] = {}
_source_hash: str | None = None
stats = {"disk_hits": 0, "disk_misses": 0, "disk_writes": 0, "corrupt": 0,
         "write_failures": 0, "rejected": 0, "evictions": 0, "invalid_objects": 0}
"""Counters for this process (tests and ``graphc cache info`` read them). ``corrupt``
and ``rejected`` both count entries refused on load (``corrupt`` kept for old readers)."""


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


def max_bytes() -> int:
    """The bound on the cache's total size: ``$GRAPHC_CACHE_MAX_BYTES`` (a whole number
    of bytes, optionally with a ``K``/``M``/``G`` suffix, powers of 1024; ``0`` stores
    nothing), else :data:`DEFAULT_MAX_BYTES`.

    Raises:
        GraphcError: the variable is set to something else.
    """
    raw = os.environ.get(ENV_MAX, "").strip()
    if not raw:
        return DEFAULT_MAX_BYTES
    m = re.fullmatch(r"(\d{1,18})\s*(?:([kmg])(?:i?b)?|b)?", raw, re.IGNORECASE)
    if m is None:
        raise GraphcError(f"{ENV_MAX}={raw!r} is not a size in bytes (for example "
                          f"268435456 or 256M)")
    scale = {None: 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[
        m.group(2).lower() if m.group(2) else None]
    return int(m.group(1)) * scale


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
    from ..._version import __version__
    h = hashlib.sha256()
    for part in (*parts, cpu, features, llvm_version, platform.machine(),
                 sys.implementation.name, f"{sys.version_info[0]}.{sys.version_info[1]}",
                 __version__, _backend_source_hash()):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


# ---------------------------------------------------------------------------------
# file format

def _mac(secret: bytes, name: str, payload: bytes) -> bytes:
    msg = hmac.new(secret, MAGIC, hashlib.sha256)
    msg.update(name.encode("utf-8") + b"\0")
    msg.update(len(payload).to_bytes(8, "little"))
    msg.update(payload)
    return msg.digest()


def pack(payload: bytes, name: str, secret: bytes) -> bytes:
    """A cache file's bytes for ``payload`` stored under entry ``name`` (the key from
    :func:`entry_key`), authenticated with the 32-byte ``secret`` (HMAC-SHA256)."""
    return MAGIC + _mac(secret, name, payload) + len(payload).to_bytes(8, "little") \
        + payload


def unpack(data: bytes, name: str, secret: bytes) -> bytes | None:
    """The payload of cache file bytes ``data`` read under entry ``name``, or None when
    it is truncated, corrupted, in an old format, written under another name or with
    another key (constant-time comparison of the HMAC)."""
    if len(data) < _HEADER or not data.startswith(MAGIC):
        return None
    tag = data[len(MAGIC):len(MAGIC) + 32]
    size = int.from_bytes(data[len(MAGIC) + 32:_HEADER], "little")
    payload = data[_HEADER:]
    if len(payload) != size:
        return None
    if not hmac.compare_digest(_mac(secret, name, payload), tag):
        return None
    return payload


# ---------------------------------------------------------------------------------
# ELF validation

_EM = {"x86_64": 62, "amd64": 62, "aarch64": 183, "arm64": 183, "ppc64le": 21,
       "ppc64": 21, "s390x": 22, "riscv64": 243, "i386": 3, "i686": 3, "x86": 3,
       "armv7l": 40, "loongarch64": 258}
"""``platform.machine()`` -> ELF ``e_machine`` (System V ABI supplements)."""

# Relocation types accepted, with the bytes each writes: those graphc's large-code-model
# kernels use, none of which can overflow (LLVM RuntimeDyldELF aborts on an unknown
# type, and builds with assertions abort on an overflowing 8/16/32-bit one). x86-64
# psABI and AArch64 ELF ABI numbering; another machine's types are not checked.
_RELOCS = {
    62: {0: 0, 1: 8, 24: 8, 25: 8, 29: 8},            # NONE, 64, PC64, GOTOFF64, GOTPC64
    183: {0: 0, 257: 8, 260: 8, 264: 4, 266: 4, 268: 4, 270: 4},  # ABS64, PREL64, MOVW_*
}

_SHT_NULL, _SHT_PROGBITS, _SHT_SYMTAB, _SHT_STRTAB, _SHT_RELA = 0, 1, 2, 3, 4
_SHT_NOTE, _SHT_NOBITS, _SHT_REL = 7, 8, 9
_SHT_LLVM_ADDRSIG = 0x6FFF4C03
_SECTION_TYPES = {_SHT_NULL, _SHT_PROGBITS, _SHT_SYMTAB, _SHT_STRTAB, _SHT_RELA,
                  _SHT_NOTE, _SHT_NOBITS, _SHT_REL, _SHT_LLVM_ADDRSIG}
_SHF_KNOWN = 0x1 | 0x2 | 0x4 | 0x10 | 0x20 | 0x40 | 0x80 | 0x10000000 | 0x20000000 \
    | 0x80000000
"""Section flags allowed: WRITE, ALLOC, EXECINSTR, MERGE, STRINGS, INFO_LINK,
LINK_ORDER, X86_64_LARGE, AARCH64_PURECODE, EXCLUDE (not GROUP, TLS, COMPRESSED: the
JIT linker aborts on thread-local sections)."""
_SHN_UNDEF, _SHN_LORESERVE, _SHN_ABS = 0, 0xFF00, 0xFFF1
_MAX_SECTIONS = 4096
_MAX_ALIGN = 4096
_MAX_NOBITS = 1 << 28


def _host_elf() -> tuple[int, str, int | None]:
    """(ELF class, struct byte order, e_machine or None) of this process."""
    cls = 2 if sys.maxsize > 2 ** 32 else 1
    order = "<" if sys.byteorder == "little" else ">"
    return cls, order, _EM.get(platform.machine().lower())


def _cstr(data: bytes, start: int, end: int) -> bytes | None:
    """The NUL-terminated string at ``start`` within ``data[:end]``, or None."""
    stop = data.find(b"\0", start, end)
    return None if stop < 0 else data[start:stop]


def _parse_elf(data: bytes) -> tuple[str | None, list[str]]:
    """(problem or None, names of undefined global symbols) of an object file."""
    cls, order, machine = _host_elf()
    if sys.platform.startswith(("win", "cygwin", "darwin")):
        return "the disk cache validates ELF objects only", []
    if machine is None:
        return f"no ELF machine number known for {platform.machine()!r}", []
    wide = cls == 2
    ehsize, shentsize = (64, 64) if wide else (52, 40)
    n = len(data)
    if n < ehsize or data[:4] != b"\x7fELF":
        return "no ELF magic", []
    if data[4] != cls:
        return f"ELF class {data[4]}, this process needs {cls}", []
    if data[5] != (1 if order == "<" else 2):
        return "wrong byte order", []
    if data[6] != 1:
        return "ELF identification version is not 1", []
    hdr = struct.unpack_from(order + ("HHIQQQIHHHHHH" if wide else "HHIIIIIHHHHHH"),
                             data, 16)
    (e_type, e_machine, e_version, _entry, e_phoff, e_shoff, _flags, e_ehsize,
     _phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx) = hdr
    if e_type != 1:
        return f"e_type {e_type} is not ET_REL (a relocatable object)", []
    if e_machine != machine:
        return f"e_machine {e_machine} is not this machine's ({machine})", []
    if e_version != 1:
        return "e_version is not 1", []
    if e_ehsize != ehsize or e_shentsize != shentsize:
        return "header or section header size inconsistent with the ELF class", []
    if e_phnum != 0 or e_phoff != 0:
        return "a relocatable object has no program headers", []
    if not 1 <= e_shnum <= _MAX_SECTIONS:
        return f"{e_shnum} section headers", []
    if e_shoff < ehsize or e_shoff + e_shnum * shentsize > n:
        return "section header table outside the file", []
    if not 0 < e_shstrndx < e_shnum:
        return "section name table index out of range", []
    fmt = order + ("IIQQQQIIQQ" if wide else "IIIIIIIIII")
    shdrs = [struct.unpack_from(fmt, data, e_shoff + i * shentsize)
             for i in range(e_shnum)]
    if any(shdrs[0]):
        return "section 0 is not null", []
    names_t = shdrs[e_shstrndx]
    if names_t[1] != _SHT_STRTAB:
        return "section name table is not a string table", []
    sym_ent, rela_ent, rel_ent = (24, 24, 16) if wide else (16, 12, 8)
    for i, (name, typ, flags, _addr, off, size, link, info, align, entsize) \
            in enumerate(shdrs[1:], 1):
        where = f"section {i}"
        if typ not in _SECTION_TYPES:
            return f"{where} has unsupported type {typ:#x}", []
        if name >= names_t[5]:
            return f"{where} name outside the name table", []
        if flags & ~_SHF_KNOWN:
            return f"{where} has unsupported flags {flags & ~_SHF_KNOWN:#x}", []
        if align > _MAX_ALIGN or align & (align - 1):
            return f"{where} alignment {align}", []
        if typ == _SHT_NOBITS:
            if size > _MAX_NOBITS:
                return f"{where} too large", []
        elif off + size > n or (size and off < ehsize):
            return f"{where} data outside the file", []
        if link >= e_shnum:
            return f"{where} sh_link out of range", []
        if typ == _SHT_STRTAB and (size == 0 or data[off] != 0
                                   or data[off + size - 1] != 0):
            return f"{where} is not a NUL-delimited string table", []
        if typ == _SHT_SYMTAB:
            if entsize != sym_ent or size % sym_ent or size == 0:
                return f"{where} symbol table entry size", []
            if shdrs[link][1] != _SHT_STRTAB:
                return f"{where} symbol names are not a string table", []
            if info > size // sym_ent:
                return f"{where} sh_info beyond the symbols", []
        if typ in (_SHT_RELA, _SHT_REL):
            ent = rela_ent if typ == _SHT_RELA else rel_ent
            if entsize != ent or size % ent:
                return f"{where} relocation entry size", []
            if shdrs[link][1] != _SHT_SYMTAB:
                return f"{where} relocations do not refer to a symbol table", []
            if not 0 < info < e_shnum or shdrs[info][1] not in (_SHT_PROGBITS,):
                return f"{where} relocates an invalid section", []
    symtabs = [i for i, s in enumerate(shdrs) if s[1] == _SHT_SYMTAB]
    if len(symtabs) > 1:
        return "more than one symbol table", []
    names = b".eh_frame"
    for i, s in enumerate(shdrs[1:], 1):
        sname = _cstr(data, names_t[4] + s[0], names_t[4] + names_t[5])
        if sname is None:
            return f"section {i} name not terminated", []
        if sname.startswith(names) or sname.startswith(b".rela.eh_frame"):
            return f"section {i} is unwind data, which graphc kernels do not carry", []
    undefined: list[str] = []
    target_ok: list[bool] = []     # may a relocation refer to symbol k
    nsyms = 0
    if symtabs:
        st = shdrs[symtabs[0]]
        strtab = shdrs[st[6]]
        nsyms = st[5] // sym_ent
        sfmt = order + ("IBBHQQ" if wide else "IIIBBH")
        for k in range(nsyms):
            fields = struct.unpack_from(sfmt, data, st[4] + k * sym_ent)
            if wide:
                s_name, s_info, _other, s_shndx, s_value, s_size = fields
            else:
                s_name, s_value, s_size, s_info, _other, s_shndx = fields
            where = f"symbol {k}"
            if s_name >= strtab[5]:
                return f"{where} name outside the string table", []
            target_ok.append(False)
            if k == 0:
                if any(fields):
                    return "symbol 0 is not null", []
                continue
            s_type, s_bind = s_info & 0xF, s_info >> 4
            if s_type > 4 or s_bind > 2:
                return f"{where} has unsupported type {s_type} or binding {s_bind}", []
            sname = _cstr(data, strtab[4] + s_name, strtab[4] + strtab[5])
            if sname is None:
                return f"{where} name not terminated", []
            if s_shndx == _SHN_UNDEF:
                if s_value or s_size:
                    return f"{where} undefined with a value", []
                if s_type == 0 and s_bind != 0 and sname:
                    undefined.append(sname.decode("latin-1"))
                    target_ok[k] = True
                elif s_info or s_name:
                    return f"{where} undefined with type {s_type}", []
                continue
            if s_shndx == _SHN_ABS:
                if s_type == 3:
                    return f"{where} is a section symbol without a section", []
                target_ok[k] = s_type != 4 and bool(sname)
                continue
            if s_shndx >= e_shnum or s_shndx >= _SHN_LORESERVE:
                return f"{where} section index {s_shndx} out of range", []
            sec = shdrs[s_shndx]
            if sec[1] == _SHT_NULL or s_value > sec[5] or s_value + s_size > sec[5]:
                return f"{where} outside its section", []
            target_ok[k] = s_type == 3 or (s_type != 4 and bool(sname))
    for i, (_n, typ, _f, _a, off, size, link, info, _al, ent) in enumerate(shdrs):
        if typ not in (_SHT_RELA, _SHT_REL):
            continue
        allowed = _RELOCS.get(machine)
        target_size = shdrs[info][5]
        rfmt = order + (("QQq" if typ == _SHT_RELA else "QQ") if wide else
                        ("IIi" if typ == _SHT_RELA else "II"))
        for k in range(size // ent):
            r = struct.unpack_from(rfmt, data, off + k * ent)
            r_off, r_info = r[0], r[1]
            sym, rtype = (r_info >> 32, r_info & 0xFFFFFFFF) if wide else \
                (r_info >> 8, r_info & 0xFF)
            if sym >= nsyms or not target_ok[sym]:
                return f"relocation {k} of section {i} refers to symbol {sym}", []
            width = 1 if allowed is None else allowed.get(rtype)
            if width is None:
                return f"relocation {k} of section {i} has unsupported type {rtype}", []
            if r_off + width > target_size:
                return f"relocation {k} of section {i} outside its target", []
    return None, undefined


def validate_object(data: bytes) -> str | None:
    """Why ``data`` is not an ELF relocatable object this process can hand to LLVM's
    JIT linker, or None when it passes.

    A structural check in pure Python (System V gABI, "ELF-64 Object File Format" 1.5):
    magic, class and byte order of this process, ``ET_REL``, this machine's
    ``e_machine``, no program headers, the section header table and every section's
    data inside the file, known section types and flags (no TLS, group or compressed
    sections), sane alignment, symbol and relocation tables with the right entry sizes
    linked to the right tables, symbol names and values inside their tables and
    sections, relocations referring to symbols the JIT linker can resolve (not file or
    null symbols) with 64-bit types it implements (no overflow possible), writing inside
    their target sections. Does not check that
    undefined symbols resolve (see :func:`load`). Never raises.
    """
    try:
        return _parse_elf(data)[0]
    except (struct.error, IndexError, ValueError, OverflowError) as exc:
        return f"malformed ({exc.__class__.__name__})"


def _unresolved(names: list[str]) -> list[str]:
    """The ``names`` the JIT linker would not find in this process (it aborts on one)."""
    if not names:
        return []
    from llvmlite import binding as llvm
    from . import vecmath
    from .jit import python_trampoline_setup
    vecmath.load_into_llvm()
    python_trampoline_setup()
    return [n for n in names if not llvm.address_of_symbol(n)]


# ---------------------------------------------------------------------------------
# directory, key and entries

_PACKAGE_DIRS = tuple({str(Path(__file__).parents[2]) + os.sep,
                       str(Path(__file__).resolve().parents[2]) + os.sep})


def _warn(message: str) -> None:
    """Warn, attributed to the first caller outside graphc (the user's line)."""
    frame, level = sys._getframe(0), 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIRS):
        frame, level = frame.f_back, level + 1
    warnings.warn(f"graphc disk cache: {message}", CacheWarning, stacklevel=level)


def _warn_once(tag: tuple, message: str) -> None:
    with _lock:
        if tag in _warned:
            return
        _warned.add(tag)
    _warn(message)


def _owner_problem(st: os.stat_result, what: str, private: bool) -> str | None:
    """Why a directory/file with ``st`` must not be trusted, or None."""
    uid = os.geteuid()
    if st.st_uid != uid:
        return f"{what} is owned by uid {st.st_uid}, not by this user (uid {uid})"
    mask = 0o077 if private else 0o022
    if st.st_mode & mask:
        kind, fix = ("readable or writable", "go-rwx") if private else ("writable", "go-w")
        return (f"{what} is {kind} by group or others (mode "
                f"{stat.S_IMODE(st.st_mode):o}; fix with chmod {fix})")
    return None


def _open_nofollow(d: Path) -> tuple[int | None, str | None]:
    """(descriptor, None) of directory ``d`` opened without following a final symbolic
    link; (None, reason) when it is a link or not a directory; (None, None) when it does
    not exist or cannot be opened."""
    try:
        lst = os.lstat(d)
    except OSError:
        return None, None
    if stat.S_ISLNK(lst.st_mode):
        return None, "is a symbolic link (the cache never follows links)"
    if not stat.S_ISDIR(lst.st_mode):
        return None, "is not a directory"
    try:
        fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | _CLOEXEC)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            return None, "is a symbolic link (the cache never follows links)"
        return None, None
    return fd, None


def _open_dir(create: bool) -> int | None:
    """A descriptor of the checked cache directory (caller closes it), or None: turned
    off, unsupported here, missing, or refused (one warning per process)."""
    if not enabled() or not _SUPPORTED:
        return None
    d = cache_dir()
    if create:
        try:
            d.parent.mkdir(parents=True, exist_ok=True)
            os.mkdir(d, 0o700)
        except OSError:
            pass  # exists, or cannot be made: found out below
    fd, reason = _open_nofollow(d)
    if fd is not None:
        reason = _owner_problem(os.fstat(fd), "it", private=False)
        if reason is not None:
            os.close(fd)
            fd = None
    if reason is not None:
        _warn_once(("dir", str(d), reason), f"refusing cache directory {d}: {reason}; "
                                            f"compiling without the disk cache")
    return fd


def _read_key(dfd: int) -> tuple[bytes | None, str | None]:
    try:
        fd = os.open(KEY_NAME, os.O_RDONLY | os.O_NOFOLLOW | _NONBLOCK | _CLOEXEC,
                     dir_fd=dfd)
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None, "the key file is a symbolic link"
        return None, f"the key file cannot be read ({exc.strerror})"
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None, "the key file is not a regular file"
        problem = _owner_problem(st, "the key file", private=True)
        if problem is not None:
            return None, problem
        data = os.read(fd, KEY_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) != KEY_BYTES:
        return None, f"the key file holds {len(data)} bytes, not {KEY_BYTES}"
    return data, None


def _create_key(dfd: int) -> None:
    """Write a new key under a temporary name and link it into place (fails quietly
    when another process got there first)."""
    tmp = f"{TMP_PREFIX}key-{secrets.token_hex(8)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | _CLOEXEC,
                 0o600, dir_fd=dfd)
    try:
        try:
            os.write(fd, secrets.token_bytes(KEY_BYTES))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, KEY_NAME, src_dir_fd=dfd, dst_dir_fd=dfd, follow_symlinks=False)
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links
            try:
                fd = os.open(KEY_NAME, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                             | os.O_NOFOLLOW | _CLOEXEC, 0o600, dir_fd=dfd)
            except FileExistsError:
                return
            with os.fdopen(fd, "wb") as fh:
                fh.write(secrets.token_bytes(KEY_BYTES))
    finally:
        try:
            os.unlink(tmp, dir_fd=dfd)
        except OSError:
            pass


def _secret(dfd: int) -> bytes | None:
    """This user's key for the open cache directory (created on first use), or None
    (refused: one warning; or the directory cannot be written)."""
    st = os.fstat(dfd)
    ident = (st.st_dev, st.st_ino)
    with _lock:
        key = _keys.get(ident)
    if key is not None:
        return key
    key, problem = _read_key(dfd)
    if key is None and problem is None:
        try:
            _create_key(dfd)
        except OSError:
            return None
        key, problem = _read_key(dfd)
    if key is None:
        if problem is not None:
            d = cache_dir()
            _warn_once(("key", str(d), problem),
                       f"refusing cache directory {d}: {problem}; compiling without "
                       f"the disk cache (delete {KEY_NAME} to make a new key)")
        return None
    with _lock:
        _keys[ident] = key
    return key


def _reject(dfd: int, key: str, reason: str) -> None:
    stats["rejected"] += 1
    stats["corrupt"] += 1
    try:
        os.unlink(key + SUFFIX, dir_fd=dfd)
    except OSError:
        pass
    _warn(f"rejected {cache_dir() / (key + SUFFIX)}: {reason}; recompiling")


def load(key: str) -> bytes | None:
    """The cached object code for entry ``key``, or None: missing, unreadable, or
    refused (not this user's, writable by others, a link, too large, not authenticated
    with this user's key, not a valid object for this machine, or naming a symbol this
    process lacks; a refused file is deleted with a :class:`CacheWarning`). A hit marks
    the entry used for the LRU eviction.

    Raises:
        GraphcError: ``$GRAPHC_CACHE_MAX_BYTES`` is malformed.
    """
    limit = max_bytes()
    dfd = _open_dir(create=False)
    if dfd is None:
        stats["disk_misses"] += 1
        return None
    try:
        return _load(dfd, key, limit)
    finally:
        os.close(dfd)


def _load(dfd: int, key: str, limit: int) -> bytes | None:
    name = key + SUFFIX
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | _NONBLOCK | _CLOEXEC,
                     dir_fd=dfd)
    except FileNotFoundError:
        stats["disk_misses"] += 1
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            _reject(dfd, key, "it is a symbolic link")
        stats["disk_misses"] += 1
        return None
    problem = data = None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            problem = "it is not a regular file"
        else:
            problem = _owner_problem(st, "it", private=False)
        if problem is None and st.st_size > limit + _HEADER:
            problem = f"it is larger ({st.st_size} bytes) than the cache bound"
        if problem is None:
            chunks, left = [], st.st_size + 1
            while left > 0:
                chunk = os.read(fd, left)
                if not chunk:
                    break
                chunks.append(chunk)
                left -= len(chunk)
            data = b"".join(chunks)
    except OSError:
        stats["disk_misses"] += 1
        return None
    finally:
        os.close(fd)
    if problem is None:
        secret = _secret(dfd)
        if secret is None:
            stats["disk_misses"] += 1
            return None
        payload = unpack(data, key, secret)
        if payload is None:
            if data.startswith(OLD_MAGICS):
                problem = "it has an old, unauthenticated format"
            else:
                problem = "it is not authenticated with this user's key"
        else:
            problem, undefined = _parse_elf_safe(payload)
            if problem is None:
                missing = _unresolved(undefined)
                if missing:
                    problem = f"it needs symbols this process lacks ({missing[0]!r})"
            if problem is not None:
                problem = f"not a valid object file for this machine ({problem})"
    if problem is not None:
        _reject(dfd, key, problem)
        stats["disk_misses"] += 1
        return None
    try:
        os.utime(name, dir_fd=dfd, follow_symlinks=False)
    except (OSError, NotImplementedError):
        pass
    stats["disk_hits"] += 1
    return payload


def _parse_elf_safe(data: bytes) -> tuple[str | None, list[str]]:
    try:
        return _parse_elf(data)
    except (struct.error, IndexError, ValueError, OverflowError) as exc:
        return f"malformed ({exc.__class__.__name__})", []


def store(key: str, payload: bytes) -> bool:
    """Write ``payload`` (an object file) under entry ``key`` atomically, authenticated,
    then evict least recently used entries beyond the bound. Returns False when nothing
    was written: cache off or refused, the payload larger than the bound or not a valid
    object (:func:`validate_object`, symbols included: what a load would refuse is not
    written), or the directory cannot be written (then stops
    trying for this directory in this process).

    Raises:
        GraphcError: ``$GRAPHC_CACHE_MAX_BYTES`` is malformed.
    """
    if not enabled():
        return False
    limit = max_bytes()
    if len(payload) + _HEADER > limit:
        return False
    problem, undefined = _parse_elf_safe(payload)
    if problem is not None or _unresolved(undefined):   # would be refused on load
        stats["invalid_objects"] += 1
        return False
    dkey = str(cache_dir())
    if dkey in _unwritable:
        return False
    dfd = _open_dir(create=True)
    if dfd is None:
        return False
    tmp = None
    try:
        secret = _secret(dfd)
        if secret is None:
            raise OSError(errno.EACCES, "no key")
        tmp = f"{TMP_PREFIX}{secrets.token_hex(8)}{SUFFIX}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                     | _CLOEXEC, 0o600, dir_fd=dfd)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pack(payload, key, secret))
        os.replace(tmp, key + SUFFIX, src_dir_fd=dfd, dst_dir_fd=dfd)
        tmp = None
        stats["disk_writes"] += 1
        _account(dfd, limit, key + SUFFIX, _HEADER + len(payload))
        return True
    except OSError:
        stats["write_failures"] += 1
        with _lock:
            _unwritable.add(dkey)
        return False
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp, dir_fd=dfd)
            except OSError:
                pass
        os.close(dfd)


def _scan(dfd: int) -> tuple[list[tuple[int, str, int]], list[tuple[float, str]]]:
    """([(mtime_ns, name, size)] of entries, [(mtime, name)] of temporary files)."""
    found, tmps = [], []
    with os.scandir(dfd) as it:
        for e in it:
            try:
                st = e.stat(follow_symlinks=False)
            except OSError:
                continue
            if e.name.startswith(TMP_PREFIX):
                tmps.append((st.st_mtime, e.name))
            elif e.name.endswith(SUFFIX):
                found.append((st.st_mtime_ns, e.name, st.st_size))
    return found, tmps


def _account(dfd: int, limit: int, keep: str, added: int) -> None:
    """Count ``added`` bytes just written; scan and evict (:func:`_evict`) on the first
    write to a directory in this process, when the running estimate passes ``limit``,
    and every :data:`RESCAN_EVERY` writes (other processes write too), so a write costs
    a directory scan only now and then."""
    st = os.fstat(dfd)
    ident = (st.st_dev, st.st_ino)
    with _lock:
        usage = _usage.get(ident)
        if usage is not None:
            usage[0] += added
            usage[1] += 1
            if usage[0] <= limit and usage[1] < RESCAN_EVERY:
                return
    total = _evict(dfd, limit, keep)
    with _lock:
        _usage[ident] = [total, 0]


def _evict(dfd: int, limit: int, keep: str) -> int:
    """Delete stale temporary files, then least recently used entries (never ``keep``)
    until the cache is under ``LOW_WATER * limit`` when it is over ``limit``; returns
    the bytes left."""
    found, tmps = _scan(dfd)
    now = time.time()
    for mtime, name in tmps:
        if now - mtime > STALE_TMP_SECONDS:
            try:
                os.unlink(name, dir_fd=dfd)
            except OSError:
                pass
    total = sum(size for _, _, size in found)
    if total <= limit:
        return total
    target = int(limit * LOW_WATER)
    for _, name, size in sorted(found):
        if total <= target:
            break
        if name == keep:
            continue
        try:
            os.unlink(name, dir_fd=dfd)
        except FileNotFoundError:
            pass
        except OSError:
            continue
        total -= size
        stats["evictions"] += 1
    return total


def entries() -> list[Path]:
    """The cache entries (``*.gco``, not temporary files) in :func:`cache_dir`, sorted;
    empty when it is missing, a symbolic link or not a directory."""
    if not _SUPPORTED:
        return []
    fd, _ = _open_nofollow(cache_dir())
    if fd is None:
        return []
    try:
        found, _ = _scan(fd)
    finally:
        os.close(fd)
    d = cache_dir()
    return sorted(d / name for _, name, _ in found)


def info() -> dict:
    """The cache at a glance: ``directory``, ``enabled``, ``problem`` (why the directory
    or key is refused, else None), ``entries`` (count), ``bytes`` (their total size) and
    ``max_bytes`` (the bound).

    Raises:
        GraphcError: ``$GRAPHC_CACHE_MAX_BYTES`` is malformed.
    """
    d = cache_dir()
    out = {"directory": str(d), "enabled": enabled() and _SUPPORTED, "problem": None,
           "entries": 0, "bytes": 0, "max_bytes": max_bytes()}
    if not _SUPPORTED:
        out["problem"] = "unsupported on this system (no O_NOFOLLOW / dir_fd / uids)"
        return out
    fd, reason = _open_nofollow(d)
    if fd is None:
        out["problem"] = None if reason is None else f"{d} {reason}"
        return out
    try:
        out["problem"] = _owner_problem(os.fstat(fd), str(d), private=False)
        if out["problem"] is None:
            _, problem = _read_key(fd)
            out["problem"] = problem
        found, _ = _scan(fd)
    finally:
        os.close(fd)
    out["entries"] = len(found)
    out["bytes"] = sum(size for _, _, size in found)
    return out


def clear() -> int:
    """Delete every cache entry and temporary file in :func:`cache_dir` (never through a
    symbolic link; the key is kept); returns how many entries were removed."""
    removed = 0
    if _SUPPORTED:
        fd, _ = _open_nofollow(cache_dir())
        if fd is not None:
            try:
                found, tmps = _scan(fd)
                for _, name, _ in found:
                    try:
                        os.unlink(name, dir_fd=fd)
                        removed += 1
                    except OSError:
                        pass
                for _, name in tmps:
                    try:
                        os.unlink(name, dir_fd=fd)
                    except OSError:
                        pass
            finally:
                os.close(fd)
    with _lock:
        _unwritable.clear()
        _warned.clear()
        _usage.clear()
    return removed
