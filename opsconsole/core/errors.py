"""Errors the core raises with messages fit for an operator."""

from __future__ import annotations


class ConfigError(Exception):
    """A site file or profile is invalid. `errors` holds one line per problem,
    each naming the file, the key path and the problem."""

    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = errors
