"""Pytest fixtures shared by every test directory (helpers live in tests/helpers.py)."""

import pytest

from helpers import read_rows


@pytest.fixture(scope="session")
def feynman_rows():
    return read_rows("feynman.csv")


@pytest.fixture(scope="session")
def optim_rows():
    return read_rows("optim_functions.csv")
