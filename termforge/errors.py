"""Errors every part of termforge raises for bad input or a broken environment.

A `TermforgeError` carries one human-readable line that says what went wrong and where;
the CLI prints exactly that line (no traceback) and exits non-zero.
"""

from __future__ import annotations


class TermforgeError(Exception):
    """Base class: a clear, one-line, user-facing error."""

    exit_code = 2

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:  # one line, always
        return " ".join(self.message.split("\n"))


class TaskFormatError(TermforgeError):
    """A task directory is malformed: names the file and the field."""

    def __init__(self, path, message: str, field: str | None = None):
        where = f"{path}" + (f" [{field}]" if field else "")
        super().__init__(f"{where}: {message}")
        self.path = path
        self.field = field


class DockerUnavailableError(TermforgeError):
    """The Docker daemon cannot be reached."""


class ImageMissingError(TermforgeError):
    """A required image is absent locally and cannot be pulled."""


class ConfigError(TermforgeError):
    """A configuration file or override is wrong."""
