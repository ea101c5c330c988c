"""`lorarecycle` root command. User errors print one line (no traceback) and exit 2;
set LORARECYCLE_DEBUG=1 to see tracebacks."""

from __future__ import annotations

import os
import sys

import typer

from ..errors import UserError
from .data import data
from .diagnose import diagnose
from .merge import merge
from .methods import methods
from .run import run
from .status import report, status
from .theory import theory

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Do recycled LoRA adapters compose new abilities? Experiments, merges, diagnostics.")
app.command()(run)
app.command()(data)
app.command()(methods)
app.command()(merge)
app.command()(diagnose)
app.command()(theory)
app.command()(status)
app.command()(report)


def main() -> None:
    try:
        app(standalone_mode=False)
    except UserError as err:
        if os.environ.get("LORARECYCLE_DEBUG"):
            raise
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):
        print("interrupted: re-run the same command to resume", file=sys.stderr)
        sys.exit(130)
    except Exception as err:  # click usage errors carry their own exit code and message
        import click

        if isinstance(err, click.ClickException):
            err.show()
            sys.exit(err.exit_code)
        raise


if __name__ == "__main__":
    main()
