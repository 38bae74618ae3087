"""The two kinds of failure the CLI tells apart, and so the exit codes users rely on.

- :class:`PreconditionFailed` (exit 2): something the user has to set up first is missing
  (the local cloud is not running, the app is not deployed, no AWS region, an undeclared
  dataset, a missing file, a port taken...). It carries a stable ``code`` and the
  ``fix``: one line that names what to do.
- :class:`DriftlineError` (exit 1): an operation was tried and failed; the message says
  why.

Anything else that escapes a command is a bug or an error nobody anticipated: the CLI
reports it in one line too (exit 1) and shows the traceback only with ``--debug``.
"""

from __future__ import annotations


class DriftlineError(RuntimeError):
    """An operation failed; ``str(error)`` says why. ``code`` is stable, for ``--json``.

    ``result_printed``: the command printed its result document (``drop --check --json``
    prints the report of a rejected file), so ``--json`` adds no error document to it.
    """

    code = "failed"
    result_printed = False


class PreconditionFailed(DriftlineError):
    """A precondition the user can fix is missing: ``message``, then the ``fix``."""

    def __init__(self, message: str, fix: str, *, code: str) -> None:
        # Without a separate fix, the message names it itself.
        self.message = message.rstrip(".") if fix else message
        self.fix = fix
        self.code = code
        super().__init__(f"{self.message}. {fix}" if fix else message)
