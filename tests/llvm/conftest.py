"""Fixtures for the LLVM backend's tests: an isolated on-disk kernel cache."""

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def _isolated_kernel_cache(tmp_path_factory):
    """Point graphc's on-disk kernel cache at a fresh directory for the whole session,
    so the tests neither read nor fill the user's ~/.cache/graphc."""
    old = os.environ.get("GRAPHC_CACHE_DIR")
    os.environ["GRAPHC_CACHE_DIR"] = str(tmp_path_factory.mktemp("graphc-cache"))
    yield
    if old is None:
        os.environ.pop("GRAPHC_CACHE_DIR", None)
    else:
        os.environ["GRAPHC_CACHE_DIR"] = old


def simd_levels():
    """Every SIMD level this host can run (best first), and "none"."""
    from graphc.backends.llvm import jit, vecmath
    best = jit.host().best_level
    levels = list(vecmath.LEVELS)
    return levels[levels.index(best):]
