"""Run options as dataclasses that explain themselves.

Each field of a run's options (``cogan.TrainConfig``, ``cyclegan.TrainConfig``)
is declared with :func:`option`: its meaning, allowed values and unit live in
the field's metadata, from which :func:`core.cli.add_config_arguments` builds
the command-line flags and their help. Validation raises :class:`ConfigError`,
which names options by field (``batch_size``) for Python callers and is
spelled as flags (``--batch-size``) by the command lines.

Importing this module does not import TensorFlow.
"""

from __future__ import annotations

import dataclasses
import json
import numbers
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from core.precision import PRECISIONS

__all__ = ["GAN_LOSSES", "STRATEGIES", "ConfigError", "RunOptions", "describe_changes",
           "has_checkpoint", "invalid", "literal", "loop_option", "option", "precision_option"]

#: GAN objectives (see :mod:`core.gan_losses`)
GAN_LOSSES = ("bce", "lsgan")
#: ``tf.distribute`` strategies :func:`core.loop.get_strategy` builds
STRATEGIES = ("default", "mirrored", "multiworker", "tpu")


def option(default: Any, help: str, *, choices: Iterable[Any] | None = None,
           unit: str | None = None) -> Any:
    """A dataclass field with its ``help`` (meaning), ``choices`` (allowed
    values, checked by the command line) and ``unit`` in its metadata."""
    meta = {"help": help, "choices": tuple(choices) if choices is not None else None,
            "unit": unit}
    return dataclasses.field(default=default, metadata=meta)


_LOOP_OPTIONS = {
    "run_dir": (None, "run folder (checkpoints, options.json, logs, samples)", None, None),
    "strategy": ("default", "tf.distribute strategy: default (one device), mirrored (all local "
                 "GPUs, or logical CPUs), multiworker (the machines in $TF_CONFIG, each running "
                 "this command; the run folder on shared storage) or tpu", STRATEGIES, None),
    "log_every": (50, "TensorBoard scalars every this many steps", None, "steps"),
    "sample_every": (500, "sample grid (samples/*.png) every this many steps", None, "steps"),
    "checkpoint_every": (500, "checkpoint every this many steps (also at the end and on "
                         "Ctrl-C / SIGTERM)", None, "steps"),
    "skip_bad_images": (False, "folders: skip unreadable images with a counted warning "
                        "instead of stopping at the first one", None, None),
}


def loop_option(name: str, default: Any = None) -> Any:
    """The field of an option every training run has (``run_dir``,
    ``strategy``, ``log_every``, ``sample_every``, ``checkpoint_every``),
    declared once for all runs, and ``skip_bad_images`` of runs that read
    folders; ``default`` overrides the shared one (and is required for
    ``run_dir``)."""
    shared, text, choices, unit = _LOOP_OPTIONS[name]
    return option(shared if default is None else default, text, choices=choices, unit=unit)


def precision_option() -> Any:
    """The ``precision`` field of a training run (``core.precision``'s
    vocabulary, default ``auto``), declared once for all runs."""
    return option("auto", "compute precision: float32, or bf16 (bf16 compute, float32 "
                  "weights); auto: bf16 where the CPU has it natively, else float32 "
                  "($DEEPFAKE_LAB_PRECISION overrides)", choices=PRECISIONS)


def literal(text: str) -> str:
    """``text`` escaped for a :class:`ConfigError` template (its braces kept as text)."""
    return str(text).replace("{", "{{").replace("}", "}}")


class ConfigError(ValueError):
    """A bad option value. ``template`` names options through ``{}``
    placeholders filled from ``names``: ``str(error)`` spells them as fields
    (``batch_size``), :meth:`spelled` as a caller wants them (``--batch-size``)."""

    def __init__(self, template: str, *names: str) -> None:
        self.template, self.names = template, names
        super().__init__(template.format(*names))

    def spelled(self, spell: Callable[[str], str]) -> str:
        """The message with every option name passed through ``spell``."""
        return self.template.format(*map(spell, self.names))


def invalid(name: str, expected: str, value: Any, *, refs: Iterable[str] = ()) -> ConfigError:
    """``ConfigError("NAME must be EXPECTED, got VALUE")``. Other options
    ``expected`` mentions are ``{}`` placeholders in it, filled from ``refs``
    (and so spelled like ``name``); without ``refs`` its braces are text."""
    refs = tuple(refs)
    text = expected if refs else literal(expected)
    return ConfigError("{} must be " + text + ", got " + literal(repr(value)), name, *refs)


def describe_changes(where: str, changes: dict[str, tuple[Any, Any]]) -> ConfigError:
    """The error for a resume whose options differ from the saved run's:
    ``changes`` maps option -> (saved, given)."""
    diffs = ", ".join("{}: " + literal(f"{old!r} -> {new!r}") for old, new in changes.values())
    return ConfigError(literal(f"{where}: cannot resume, options differ from the saved run (")
                       + diffs + "); use a new run folder", *changes)


def has_checkpoint(run_dir: str | os.PathLike) -> bool:
    """True when ``run_dir`` holds a training checkpoint (what makes it a
    saved run; an ``options.json`` alone does not)."""
    return (Path(run_dir) / "checkpoints" / "checkpoint").is_file()


class RunOptions:
    """Base of the option dataclasses of training runs (which have a
    ``run_dir`` field)."""

    def check_choices(self) -> None:
        """Raise :class:`ConfigError` for a field outside its declared ``choices``."""
        for f in dataclasses.fields(self):
            choices = f.metadata.get("choices")
            if choices is not None and getattr(self, f.name) not in choices:
                raise invalid(f.name, "one of " + ", ".join(map(str, choices)),
                              getattr(self, f.name))

    def check_positive(self, *names: str) -> None:
        """Raise :class:`ConfigError` unless each of ``names`` is an integer >= 1."""
        for name in names:
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
                raise invalid(name, "a positive integer", value)

    def check_numbers(self, *names: str, low: float = 0.0, high: float | None = None,
                      strict: bool = False) -> None:
        """Raise :class:`ConfigError` unless each of ``names`` is ``>= low``
        (``> low`` if ``strict``) and, given ``high``, ``<= high`` (NaN fails)."""
        for name in names:
            value = float(getattr(self, name))
            above = value > low if strict else value >= low
            if high is not None:
                ok, expected = above and value <= high, f"in [{low:g}, {high:g}]"
            else:
                ok, expected = above, f"{'>' if strict else '>='} {low:g}"
            if not ok:
                raise invalid(name, expected, getattr(self, name))

    @classmethod
    def from_run(cls, run_dir: str | os.PathLike, **overrides: Any):
        """The options saved in ``run_dir/options.json``, with ``overrides``
        and ``run_dir`` applied. Saved keys the class does not know (e.g.
        ``data_size``) are dropped."""
        path = Path(run_dir) / "options.json"
        try:
            saved = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: no readable options file ({exc})") from None
        names = {f.name for f in dataclasses.fields(cls)}
        saved = {k: v for k, v in saved.items() if k in names}
        saved.update(overrides, run_dir=str(run_dir))
        return cls(**saved)
