"""``graphc cache``: inspect or clear the on-disk cache of compiled LLVM kernels.

Examples::

    graphc cache info      # where it is, how many kernels, how many bytes, the bound
    graphc cache clear     # delete every cached kernel
    graphc cache dir       # print the directory (for scripts)

The directory is ``$GRAPHC_CACHE_DIR``, else ``$XDG_CACHE_HOME/graphc``, else
``~/.cache/graphc``; ``GRAPHC_DISK_CACHE=0`` turns the cache off and
``GRAPHC_CACHE_MAX_BYTES`` bounds its size (default 256M). A directory that is a
symbolic link, not this user's, or writable by group or others is refused (see
:mod:`graphc.backends.llvm.cache`).
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
    """Print the cache's state (``info``), delete its entries (``clear``) or print its
    directory (``dir``); returns the exit status 0.

    Raises:
        GraphcError: ``$GRAPHC_CACHE_MAX_BYTES`` is malformed (the CLI prints one line
            and exits 2).
    """
    from ..backends.llvm import cache, clear_cache

    if args.action == "dir":
        print(cache.cache_dir())
        return 0
    if args.action == "clear":
        removed = clear_cache()
        print(f"removed {removed} cached kernel(s) from {cache.cache_dir()}")
        return 0
    state = cache.info()
    if not cache.enabled():
        status = f"off ({cache.ENV_ENABLE}=0)"
    elif state["problem"] is not None:
        status = f"refused: {state['problem']}"
    else:
        status = "on"
    print(f"directory: {state['directory']}")
    print(f"disk cache: {status}")
    print(f"kernels:   {state['entries']}")
    print(f"bytes:     {state['bytes']}")
    print(f"limit:     {state['max_bytes']} bytes ({cache.ENV_MAX}; least recently used "
          f"kernels are evicted beyond it)")
    return 0
