"""`lorarecycle` root command. User errors print one line (no traceback) and exit 2;
set LORARECYCLE_DEBUG=1 to see tracebacks."""

from __future__ import annotations

import os
import signal
import sys

import typer

from ..errors import UserError
from ..ui import error_line
from .cache import app as cache_app
from .data import data
from .diagnose import diagnose
from .merge import merge
from .methods import methods
from .run import run
from .status import report, status
from .theory import theory
from .validate import validate

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Do recycled LoRA adapters compose new abilities? Experiments, merges, diagnostics.")
app.command()(run)
app.command()(validate)
app.command()(data)
app.command()(methods)
# unknown --NAME VALUE options are the merge method's own parameters (cli/merge.py)
app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(merge)
app.command()(diagnose)
app.command()(theory)
app.command()(status)
app.command()(report)
app.add_typer(cache_app, name="cache")


INTERRUPTED = "interrupted; re-run the same command to resume"


def _terminate(signum, frame) -> None:
    raise Terminated()


class Terminated(Exception):
    """SIGTERM, raised where the process is, so partial writes unwind like on Ctrl-C."""


def main() -> None:
    signal.signal(signal.SIGTERM, _terminate)
    try:
        code = app(standalone_mode=False)
    except UserError as err:
        if os.environ.get("LORARECYCLE_DEBUG"):
            raise
        _fail(str(err), 2)
    except KeyboardInterrupt:
        _fail(INTERRUPTED, 130)
    except Terminated:
        _fail(INTERRUPTED, 143)
    except Exception as err:
        # Usage errors (unknown command, bad option value, missing argument) come from the
        # CLI framework's own click, which typer may vendor: recognised by their interface
        # rather than by class, so a typer upgrade cannot turn them into tracebacks.
        if hasattr(err, "format_message") and isinstance(getattr(err, "exit_code", None), int):
            # no arguments: the framework has printed the help and has no message of its own
            message = err.format_message().replace("\n", " ").strip() or "no command given; the commands are listed above"
            _fail(message, err.exit_code)
        if type(err).__name__ == "Abort":  # Ctrl-C inside a prompt or the framework itself
            _fail(INTERRUPTED, 130)
        raise
    # In non-standalone mode the framework returns an exit code instead of exiting
    # (130 after Ctrl-C, typer.Exit codes): pass it on, never report success for it.
    if isinstance(code, int) and code != 0:
        if code == 130:
            error_line(INTERRUPTED)
        sys.exit(code)


def _fail(message: str, code: int) -> None:
    error_line(message)
    sys.exit(code)


if __name__ == "__main__":
    main()
