"""``graphc cache``: inspect or clear the on-disk cache of compiled LLVM kernels.

Examples::

    graphc cache info      # where it is, how many kernels, how many bytes
    graphc cache clear     # delete every cached kernel
    graphc cache dir       # print the directory (for scripts)

The directory is ``$GRAPHC_CACHE_DIR``, else ``$XDG_CACHE_HOME/graphc``, else
``~/.cache/graphc``; ``GRAPHC_DISK_CACHE=0`` turns the cache off.
"""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser(
        "cache", help="inspect or clear the on-disk cache of compiled kernels",
        description="The LLVM backend keeps the machine code of every kernel it compiles "
                    "on disk, so a new process loads it in milliseconds. 'info' shows the "
                    "cache, 'clear' deletes it, 'dir' prints its directory.")
    p.add_argument("action", choices=("info", "clear", "dir"), nargs="?", default="info",
                   help="what to do (default: info)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..backends.llvm import cache, clear_cache

    if args.action == "dir":
        print(cache.cache_dir())
        return 0
    if args.action == "clear":
        removed = clear_cache()
        print(f"removed {removed} cached kernel(s) from {cache.cache_dir()}")
        return 0
    files = cache.entries()
    size = 0
    for f in files:
        try:
            size += f.stat().st_size
        except OSError:
            pass
    state = "on" if cache.enabled() else f"off ({cache.ENV_ENABLE}=0)"
    print(f"directory: {cache.cache_dir()}")
    print(f"disk cache: {state}")
    print(f"kernels:   {len(files)}")
    print(f"bytes:     {size}")
    return 0
