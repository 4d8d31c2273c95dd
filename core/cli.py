"""Command-line plumbing shared by every ``python -m PACKAGE`` entry point.

Importing this module does not import TensorFlow, so parsers (and ``--help``)
stay fast.

- :class:`Interrupted`: what a loop raises after it saved its work on Ctrl-C
  (SIGINT) or SIGTERM; it says what was saved.
- :func:`run_main`: runs a CLI body and turns the expected failures into one
  line on stderr and an exit code: bad input (``ValueError``) 2, a file-system
  error (``OSError``, naming the path) 1, an interruption 130 (SIGINT) or 143
  (SIGTERM), with the command that resumes. Option errors
  (:class:`core.config.ConfigError`) name the flag (``--batch-size``).
- :func:`add_config_arguments` / :func:`config_for_cli`: the flags of a run's
  options dataclass, with help generated from its fields' metadata.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import signal
import sys
import typing
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from core.config import ConfigError, has_checkpoint

__all__ = ["Interrupted", "add_config_arguments", "add_train_command", "command_parser",
           "config_for_cli", "deferred_interrupts", "describe_os_error", "emit_json", "flag",
           "resume_command", "run_main", "sigterm_interrupts", "train_from_cli"]

# fields whose flag is not their name with dashes
_FLAGS = {"run_dir": "--run"}


def flag(name: str, aliases: Mapping[str, str] | None = None) -> str:
    """How the command lines spell an option field or argument: ``batch_size``
    -> ``--batch-size`` (``run_dir`` -> ``--run``); ``aliases`` holds a
    command's own spellings (``{"style_blend": "--blend"}``)."""
    if aliases and name in aliases:
        return aliases[name]
    return _FLAGS.get(name, "--" + name.replace("_", "-"))


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


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[list[int]]:
    """Within the block, the first Ctrl-C (SIGINT) or SIGTERM is recorded in
    the yielded list instead of raised, so a loop can stop at a safe point
    (after a whole step) and save; a second one raises :class:`Interrupted`
    at once. Outside the main thread signals are left alone."""
    pending: list[int] = []

    def handler(signum, frame):
        if pending:
            raise Interrupted(signum)
        pending.append(signum)

    previous = {}
    try:
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, handler)
    except ValueError:  # not the main thread
        pass
    try:
        yield pending
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def describe_os_error(exc: OSError) -> str:
    """``"PATH: reason"`` for a file-system error (the path first, as users scan for it)."""
    reason = exc.strerror or str(exc)
    path = exc.filename if exc.filename is not None else None
    if path is None:
        return reason
    extra = f" -> {exc.filename2}" if getattr(exc, "filename2", None) else ""
    return f"{path}{extra}: {reason}"


def run_main(body: Callable[[], int | None], *, resume: str | Callable[[], str] | None = None,
             prog: str = "", flags: Mapping[str, str] | None = None) -> int:
    """Run ``body()`` and return its exit code (0 for None); expected failures
    become one line on stderr instead of a traceback.

    ``resume``: the command that continues an interrupted run (or a function
    returning it), printed after an interruption. ``flags``: how this command
    spells names that :func:`flag` does not derive (see there).
    """
    prefix = f"{prog}: " if prog else ""

    def show_warning(message, category, filename, lineno, file=None, line=None):
        print(f"{prefix}warning: {message}", file=sys.stderr)

    try:
        with sigterm_interrupts(), warnings.catch_warnings():
            warnings.showwarning = show_warning  # one line, not the source location
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
        message = (exc.spelled(lambda name: flag(name, flags)) if isinstance(exc, ConfigError)
                   else str(exc))
        print(f"{prefix}error: {message}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"{prefix}error: {describe_os_error(exc)}", file=sys.stderr)
        return 1


def _help(f: dataclasses.Field, resumable: bool) -> str:
    meta = f.metadata
    text = meta.get("help", "")
    unit = meta.get("unit")
    default = "default " + repr(f.default) + (" or the saved run's" if resumable else "")
    text = f"{text} [{unit}; {default}]" if unit else f"{text} [{default}]"
    return text.replace("%", "%%")  # argparse formats help with %


def add_config_arguments(parser: argparse.ArgumentParser, config_cls: type, *,
                         resumable: bool = True) -> None:
    """One flag per field of the ``config_cls`` dataclass (except ``run_dir``),
    with its meaning, unit and declared default as help and its choices
    enforced; bool fields get ``--x/--no-x``. Every flag defaults to None, so
    a resumed run keeps its saved value unless the flag is given
    (``resumable``: say so in the help)."""
    hints = typing.get_type_hints(config_cls)
    for f in dataclasses.fields(config_cls):
        if f.name == "run_dir":
            continue
        kind = hints[f.name]
        kw: dict[str, Any] = {"default": None, "help": _help(f, resumable), "dest": f.name}
        if kind is bool:
            kw["action"] = argparse.BooleanOptionalAction
        else:
            kw["type"] = kind
            if f.metadata.get("choices") is not None:
                kw["choices"] = f.metadata["choices"]
            elif f.metadata.get("unit"):
                kw["metavar"] = f.metadata["unit"].split()[0].upper()
        parser.add_argument(flag(f.name), **kw)


def command_parser(prog: str, doc: str) -> tuple[argparse.ArgumentParser, Any]:
    """The parser of ``python -m PACKAGE`` and its subcommands: the first
    paragraph of ``doc`` describes it, the rest (examples) closes its help."""
    head, _, rest = doc.partition("\n\n")
    parser = argparse.ArgumentParser(prog=prog, description=head, epilog=rest or None,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    return parser, parser.add_subparsers(dest="command", required=True)


def add_train_command(subparsers: Any, config_cls: type, help: str) -> argparse.ArgumentParser:
    """The ``train`` subcommand: ``--run``, one flag per option of
    ``config_cls`` (see :func:`add_config_arguments`) and ``--quiet``."""
    p = subparsers.add_parser("train", help=help, description="Train a new run, or resume the "
                              "run in --run (options not given keep the saved run's values; "
                              "--steps may grow).")
    p.add_argument("--run", required=True, help="run folder (resumed if it holds a checkpoint)")
    add_config_arguments(p, config_cls)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def resume_command(prog: str, run: str) -> str:
    """The command that resumes the run in ``run``."""
    import shlex

    return f"{prog} train --run {shlex.quote(run)}"


def config_for_cli(config_cls: type, run_dir: str, args: argparse.Namespace) -> Any:
    """A new run's options from the flags in ``args``, or, when ``run_dir``
    holds a checkpoint, the saved run's with the given flags overriding them
    (the run then checks they may change). An ``options.json`` without a
    checkpoint (a start that failed) is not a saved run and is ignored."""
    overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(config_cls)
                 if f.name != "run_dir" and getattr(args, f.name, None) is not None}
    if has_checkpoint(run_dir):
        return config_cls.from_run(run_dir, **overrides)
    return config_cls(run_dir=run_dir, **overrides)


def train_from_cli(config_cls: type, args: argparse.Namespace, train_module: str) -> None:
    """The body of a ``train`` subcommand: TensorFlow loaded quietly (resolving
    ``precision="auto"`` may query devices), the options from the flags (or
    the saved run's, see :func:`config_for_cli`), then ``train_module``'s
    ``train(config, show_progress=...)``."""
    import importlib

    from core.env import quiet_tensorflow

    quiet_tensorflow()
    config = config_for_cli(config_cls, args.run, args)
    result = importlib.import_module(train_module).train(config, show_progress=not args.quiet)
    print(f"{args.run}: step {config.steps} ({result.seconds:.0f}s this session)")


def emit_json(report: Any, path: Any = None) -> None:
    """Print ``report`` as indented JSON and, when ``path`` is given, write it
    there too (atomically)."""
    import json

    text = json.dumps(report, indent=2)
    print(text)
    if path:
        from data.cache import atomic_path

        with atomic_path(path) as tmp:
            tmp.write_text(text)
