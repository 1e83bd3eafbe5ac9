"""Pytest fixtures shared by every test directory (helpers live in tests/helpers.py)."""

import os

import pytest

from helpers import read_rows

# Thread counts in tests are what the test asks for, whatever else the machine runs
# (graphc otherwise lowers them to the idle CPUs: graphc.backends.llvm.threads).
os.environ.setdefault("GRAPHC_DYNAMIC_THREADS", "0")


@pytest.fixture(scope="session")
def feynman_rows():
    return read_rows("feynman.csv")


@pytest.fixture(scope="session")
def optim_rows():
    return read_rows("optim_functions.csv")
