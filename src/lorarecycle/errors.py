"""User-facing errors: the CLI prints them as one line and exits non-zero."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


class UserError(Exception):
    """Bad input from the user (config, paths, method names). Printed without a traceback."""


def invalid(source: str, err: ValidationError, what: str = "field") -> UserError:
    """One line for pydantic's first complaint: `SOURCE: field a.b: message`."""
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"])
    msg = first["msg"].removeprefix("Value error, ")
    return UserError(f"{source}: {what} {loc}: {msg}" if loc else f"{source}: {msg}")
