"""Frontends: source text (and, later, traced Python functions) to graph IR."""

from .parser import parse, tokenize

__all__ = ["parse", "tokenize"]
