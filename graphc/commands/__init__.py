"""Subcommands of the ``graphc`` CLI; each module defines ``register(subparsers)``."""
