"""The one exception hierarchy of graphc.

Every error graphc raises on purpose derives from :class:`GraphcError`, so a caller
can catch them all with one ``except``. Each kind says what went wrong, where (a
column for parse errors, a node for graph errors) and what would be accepted.
"""

from __future__ import annotations


class GraphcError(Exception):
    """Base class of every error graphc raises on purpose."""


class ParseError(GraphcError, ValueError):
    """A source string could not be parsed.

    Attributes:
        source: the text that was parsed (str).
        position: 0-based character offset of the problem in ``source`` (int or None).
        line, column: 1-based line and column of the problem (int or None).
        expected: a short phrase saying what would have been accepted (str).
    """

    def __init__(self, message: str, source: str | None = None,
                 position: int | None = None, expected: str | None = None):
        self.source = source
        self.position = position
        self.expected = expected
        self.line = self.column = None
        self.reason = message
        text = message
        if expected:
            text += f"; expected {expected}"
        if source is not None and position is not None:
            start = source.rfind("\n", 0, position) + 1
            end = source.find("\n", position)
            end = len(source) if end < 0 else end
            self.line = source.count("\n", 0, position) + 1
            self.column = position - start + 1
            shown = source[start:end]
            caret_at = position - start
            if len(shown) > 120:  # keep a window around the problem
                lo = max(0, caret_at - 60)
                shown = shown[lo:lo + 120]
                caret_at -= lo
            shown = shown.replace("\t", " ")
            shown = "".join(ch if ch.isprintable() else "?" for ch in shown)
            text = (f"line {self.line}, column {self.column}: {text}\n"
                    f"    {shown}\n    {' ' * caret_at}^")
        super().__init__(text)


class ShapeError(GraphcError, ValueError):
    """Operands of a primitive have shapes (or dtypes) it cannot combine."""


class DomainError(GraphcError, ValueError):
    """A value lies outside what an operation or option accepts."""


class NotDifferentiableError(GraphcError):
    """A derivative was asked of something that has no derivative rule."""


class LoweringError(GraphcError):
    """A graph could not be lowered to a backend's code."""


class BackendUnavailableError(GraphcError, ImportError):
    """An optional backend's dependencies are not installed."""


class InputError(GraphcError, TypeError):
    """A compiled kernel or evaluator was called with wrong inputs."""


class CacheWarning(UserWarning):
    """A kernel cache directory, key or entry was refused (not the user's, writable by
    others, a link, unauthenticated or malformed); the kernel is compiled instead.
    See docs/limits.md, "Kernel cache"."""
