"""Execute the numbered notebooks headless with a preset and collect figures.

Each notebook reads ``DEEPFAKE_PRESET`` and ``FIGURES_DIR`` from the
environment in its parameters cell, so the same file runs interactively
(defaults) and here (the runner's choice).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

__all__ = ["PRESETS", "NOTEBOOKS_DIR", "execute_notebook", "find_notebooks", "main"]

NOTEBOOKS_DIR = Path(__file__).resolve().parent
ROOT = NOTEBOOKS_DIR.parent
PRESETS = ("small", "paper")


def find_notebooks(only: Sequence[str] = ()) -> list[Path]:
    """Numbered notebooks (``NN_name.ipynb``), optionally only those whose
    number or name contains one of ``only``."""
    books = sorted(p for p in NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
    if only:
        books = [p for p in books if any(o in p.stem for o in only)]
    return books


def execute_notebook(path: Path, *, preset: str = "small", figures_dir: Path,
                     output_dir: Path | None = None, runs_dir: Path | None = None,
                     timeout: int = 3600) -> Path:
    """Run ``path`` top to bottom in a fresh kernel; return the executed copy.

    Training notebooks keep their runs (checkpoints, logs) under ``runs_dir``
    (default ``runs/<preset>``): a second execution resumes instead of
    retraining.

    Raises ``nbclient.exceptions.CellExecutionError`` naming the failing cell.
    """
    import nbclient
    import nbformat

    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {PRESETS}, got {preset!r}")
    nb = nbformat.read(path, as_version=4)
    runs_dir = Path(runs_dir or ROOT / "runs" / preset)
    env = {"DEEPFAKE_PRESET": preset, "FIGURES_DIR": str(Path(figures_dir).resolve()),
           "RUNS_DIR": str(runs_dir.resolve()),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                        os.environ.get("PYTHONPATH")])),
           "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
    from data.cache import atomic_path

    output_dir = Path(output_dir or ROOT / "build" / "notebooks" / preset)
    out = output_dir / path.name
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                         resources={"metadata": {"path": str(path.parent)}})
        client.execute()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        # keep what ran, also when a cell failed: the traceback is in the copy
        with atomic_path(out) as tmp:
            nbformat.write(nb, str(tmp))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m notebooks",
        description="Reproduce the repository's figures by executing the numbered notebooks.")
    ap.add_argument("--preset", choices=PRESETS, default="small",
                    help="small: minutes on a CPU (CI); paper: the papers' sizes (GPU)")
    ap.add_argument("--only", nargs="*", default=[], help="notebook numbers, e.g. 04")
    ap.add_argument("--figures", type=Path, help="output folder (default figures/<preset>)")
    ap.add_argument("--timeout", type=int, default=6 * 3600, help="seconds per cell")
    args = ap.parse_args(argv)
    figures = (args.figures or ROOT / "figures" / args.preset).resolve()
    books = find_notebooks(args.only)
    if not books:
        ap.error(f"no notebook matches {args.only}")
    for book in books:
        start = time.perf_counter()
        print(f"[{book.name}] running with preset={args.preset} ...", flush=True)
        executed = execute_notebook(book, preset=args.preset, figures_dir=figures,
                                    timeout=args.timeout)
        print(f"[{book.name}] done in {time.perf_counter() - start:.0f}s; executed copy: "
              f"{executed}", flush=True)
    pngs = sorted(figures.glob("*.png"))
    print(f"\n{len(pngs)} figures in {figures}:")
    for p in pngs:
        print(f"  {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
