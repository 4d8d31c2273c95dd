"""Execute the numbered notebooks headless with a preset and collect figures.

Each notebook reads ``DEEPFAKE_PRESET``, ``FIGURES_DIR`` and ``RUNS_DIR`` from
the environment in its parameters cell, so the same file runs interactively
(defaults) and here (the runner's choice).

Outputs go to ignored folders: figures to ``build/figures/<preset>/``, the
executed copies to ``build/notebooks/<preset>/``, training runs (checkpoints,
so a second execution resumes) to ``runs/<preset>/``. The committed gallery
``figures/<preset>/`` changes only with ``--update-gallery``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

__all__ = ["PRESETS", "NOTEBOOKS_DIR", "execute_notebook", "find_notebooks", "main",
           "update_gallery"]

NOTEBOOKS_DIR = Path(__file__).resolve().parent
ROOT = NOTEBOOKS_DIR.parent
#: preset -> what it is for (every notebook defines the same three)
PRESETS = {
    "test": "the fewest steps and smallest sizes that still run every cell (the test suite)",
    "small": "minutes per notebook on a CPU: the main job and the committed gallery",
    "paper": "the papers' sizes and step counts (GPU territory)",
}


def find_notebooks(only: Sequence[str] = ()) -> list[Path]:
    """Numbered notebooks (``NN_name.ipynb``, or ``NNx_name.ipynb`` for one
    placed between two, e.g. ``02b``), optionally only those whose number or
    name contains one of ``only``."""
    books = sorted(p for p in NOTEBOOKS_DIR.glob("[0-9][0-9]*_*.ipynb")
                   if re.fullmatch(r"\d\d[a-z]?_\w+", p.stem))
    if only:
        books = [p for p in books if any(o in p.stem for o in only)]
    return books


def kernel_environment(preset: str, figures_dir: Path, runs_dir: Path) -> dict[str, str]:
    """The variables a notebook's parameters cell reads, plus what keeps the
    kernel's start-up quiet (TensorFlow itself is silenced by the notebooks'
    set-up cell, ``core.env.quiet_tensorflow``)."""
    return {"DEEPFAKE_PRESET": preset, "FIGURES_DIR": str(Path(figures_dir).resolve()),
            "RUNS_DIR": str(Path(runs_dir).resolve()),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                         os.environ.get("PYTHONPATH")])),
            # debugpy's "frozen modules" notice on every kernel start (Python 3.11)
            "PYDEVD_DISABLE_FILE_VALIDATION": "1"}


def execute_notebook(path: Path, *, preset: str = "small", figures_dir: Path,
                     output_dir: Path | None = None, runs_dir: Path | None = None,
                     timeout: int = 3600) -> Path:
    """Run ``path`` top to bottom in a fresh kernel; return the executed copy.

    Training notebooks keep their runs (checkpoints, logs) under ``runs_dir``
    (default ``runs/<preset>``): a second execution resumes instead of
    retraining. The executed copy (``output_dir``, default
    ``build/notebooks/<preset>``) is written also when a cell fails, with the
    traceback in it.

    Raises ``nbclient.exceptions.CellExecutionError`` naming the failing cell.
    """
    import nbclient
    import nbformat

    from data.cache import atomic_path

    if preset not in PRESETS:
        raise ValueError(f"--preset must be one of {', '.join(PRESETS)}; got {preset!r}")
    nb = nbformat.read(path, as_version=4)
    runs_dir = Path(runs_dir or ROOT / "runs" / preset)
    env = kernel_environment(preset, figures_dir, runs_dir)
    out = Path(output_dir or ROOT / "build" / "notebooks" / preset) / path.name
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        client = nbclient.NotebookClient(
            nb, timeout=timeout, kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
            # the kernel's own notices (e.g. "running over TCP without encryption": it
            # listens on localhost only) would print on every run
            extra_arguments=["--IPKernelApp.log_level=ERROR"])
        client.execute()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        with atomic_path(out) as tmp:
            nbformat.write(nb, str(tmp))
    return out


def update_gallery(figures: Sequence[Path], gallery: Path) -> list[Path]:
    """Copy ``figures`` into ``gallery`` (atomically, one by one); figures the
    gallery holds that are not among them stay. Returns the written paths."""
    from data.cache import atomic_path

    written = []
    for src in figures:
        dst = Path(gallery) / src.name
        with atomic_path(dst) as tmp:
            shutil.copyfile(src, tmp)
        written.append(dst)
    return written


def _failure_line(exc: Exception) -> str:
    """One line for a failed cell: the exception name and message."""
    ename = getattr(exc, "ename", type(exc).__name__)
    evalue = str(getattr(exc, "evalue", "") or exc).strip().splitlines()
    return f"{ename}: {evalue[-1] if evalue else ''}"


def _run(args: argparse.Namespace) -> int:
    books = find_notebooks(args.only)
    if not books:
        raise ValueError(f"--only {' '.join(args.only)}: no notebook matches; have "
                         f"{', '.join(p.stem for p in find_notebooks())}")
    figures = (args.figures or ROOT / "build" / "figures" / args.preset).resolve()
    executed_dir = ROOT / "build" / "notebooks" / args.preset
    written: list[Path] = []
    failed: list[str] = []
    total = time.perf_counter()
    try:
        for book in books:
            _one(book, args, figures, executed_dir, written, failed)
    except KeyboardInterrupt as exc:  # the kernel got the signal too: its training saved
        from core.cli import Interrupted

        raise Interrupted(getattr(exc, "signum", 2),
                          saved=f"finished figures in {figures}, training checkpoints in "
                                f"{ROOT / 'runs' / args.preset}") from None
    print(f"\n{len(written)} figures in {figures} ({time.perf_counter() - total:.0f}s in all)")
    if args.update_gallery:
        if failed:
            print(f"gallery not updated: {', '.join(failed)} failed", file=sys.stderr)
        else:
            gallery = ROOT / "figures" / args.preset
            update_gallery(written, gallery)
            print(f"gallery updated: {len(written)} figures copied to {gallery}")
    return 1 if failed else 0


def _one(book: Path, args: argparse.Namespace, figures: Path, executed_dir: Path,
         written: list[Path], failed: list[str]) -> None:
    """Execute one notebook; append its new figures to ``written``, or its name
    to ``failed`` (a failing cell is reported in one line, not raised)."""
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    start, wall = time.time(), time.perf_counter()
    print(f"[{book.name}] running with preset={args.preset} ...", flush=True)
    try:
        executed = execute_notebook(book, preset=args.preset, figures_dir=figures,
                                    output_dir=executed_dir, timeout=args.timeout)
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as exc:
        failed.append(book.name)
        print(f"[{book.name}] FAILED after {time.perf_counter() - wall:.0f}s: "
              f"{_failure_line(exc)}\n  the traceback is in {executed_dir / book.name}",
              file=sys.stderr, flush=True)
        return
    number = book.stem.split("_")[0]  # 02 or 02b: each notebook's figures start with it
    mine = sorted(p for p in figures.glob(f"{number}_*.png")
                  if p.stat().st_mtime >= start - 1)
    written += mine
    print(f"[{book.name}] done in {time.perf_counter() - wall:.0f}s: {len(mine)} figures; "
          f"executed copy: {executed}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    from core.cli import run_main

    ap = argparse.ArgumentParser(
        prog="python -m notebooks",
        description="Reproduce the repository's figures by executing the numbered notebooks "
                    "top to bottom in fresh kernels. Figures go to build/figures/PRESET/, "
                    "executed copies to build/notebooks/PRESET/, training runs to "
                    "runs/PRESET/ (a second execution resumes them).")
    ap.add_argument("--preset", choices=list(PRESETS), default="small",
                    help="; ".join(f"{k}: {v}" for k, v in PRESETS.items()) + " (default: small)")
    ap.add_argument("--only", nargs="*", default=[], metavar="NN",
                    help="run only the notebooks whose name contains one of these, e.g. 04 "
                         "(default: all)")
    ap.add_argument("--figures", type=Path, metavar="DIR",
                    help="figures folder (default: build/figures/PRESET)")
    ap.add_argument("--update-gallery", action="store_true",
                    help="when every notebook succeeded, copy the figures into the committed "
                         "gallery figures/PRESET/")
    ap.add_argument("--timeout", type=int, default=6 * 3600, metavar="SECONDS",
                    help="time limit per cell (default: 21600)")
    args = ap.parse_args(argv)
    cmd = " ".join(["python -m notebooks", *(argv if argv is not None else sys.argv[1:])])
    return run_main(lambda: _run(args), prog="python -m notebooks", resume=cmd)


if __name__ == "__main__":
    sys.exit(main())
