"""Command-line plumbing shared by every ``python -m PACKAGE`` entry point.

Importing this module does not import TensorFlow, so parsers (and ``--help``)
stay fast.

- :class:`Interrupted`: what a loop raises after it saved its work on Ctrl-C
  (SIGINT) or SIGTERM; it says what was saved.
- :func:`run_main`: runs a CLI body and turns the expected failures into one
  line on stderr and an exit code: bad input (``ValueError``) 2, a file-system
  error (``OSError``, naming the path) 1, an interruption 130 (SIGINT) or 143
  (SIGTERM), with the command that resumes.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Callable, Iterator

__all__ = ["Interrupted", "describe_os_error", "run_main", "sigterm_interrupts"]


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM arrived. ``saved`` says what was kept (e.g. "step 700
    saved in runs/x"); ``exit_code`` is 128 + the signal number."""

    def __init__(self, signum: int = signal.SIGINT, saved: str = "") -> None:
        super().__init__(saved)
        self.signum = int(signum)
        self.saved = saved

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Interrupted` (SIGINT raises
    KeyboardInterrupt as usual), so ``except KeyboardInterrupt`` paths that
    save work also run on ``kill``."""
    def handler(signum, frame):
        raise Interrupted(signum)

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def describe_os_error(exc: OSError) -> str:
    """``"PATH: reason"`` for a file-system error (the path first, as users scan for it)."""
    reason = exc.strerror or str(exc)
    path = exc.filename if exc.filename is not None else None
    if path is None:
        return reason
    extra = f" -> {exc.filename2}" if getattr(exc, "filename2", None) else ""
    return f"{path}{extra}: {reason}"


def run_main(body: Callable[[], int | None], *, resume: str | Callable[[], str] | None = None,
             prog: str = "") -> int:
    """Run ``body()`` and return its exit code (0 for None); expected failures
    become one line on stderr instead of a traceback.

    ``resume``: the command that continues an interrupted run (or a function
    returning it), printed after an interruption.
    """
    prefix = f"{prog}: " if prog else ""
    try:
        with sigterm_interrupts():
            return int(body() or 0)
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        saved = getattr(exc, "saved", "") or "nothing to save"
        cmd = resume() if callable(resume) else resume
        tail = f"; resume with: {cmd}" if cmd and getattr(exc, "saved", "") else ""
        name = signal.Signals(signum).name
        print(f"{prefix}interrupted ({name}): {saved}{tail}", file=sys.stderr)
        return 128 + signum
    except ValueError as exc:
        print(f"{prefix}error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"{prefix}error: {describe_os_error(exc)}", file=sys.stderr)
        return 1
