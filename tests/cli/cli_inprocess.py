"""``cvops`` called in this process, with the shape of :func:`subprocess.run`'s answer.

Each ``python -m jupyter_cvops.cli`` costs 2-4 s of interpreter and library start-up; tests of
what commands do call :func:`jupyter_cvops.cli.main` directly (``tests/cli/test_cli_exit_codes.py``
and the one-line error tests keep real processes for what only a process shows).
"""

from __future__ import annotations

import contextlib
import io
import subprocess

from jupyter_cvops.cli import main


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``cvops *args`` in-process: exit code, stdout and stderr as a subprocess would give them.

    Examples
    --------
    >>> run_cli("--version").returncode
    0
    """
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse: usage mistakes, --help, --version
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if isinstance(exc.code, str):
                print(exc.code, file=err)
    return subprocess.CompletedProcess(["cvops", *args], code, out.getvalue(), err.getvalue())
