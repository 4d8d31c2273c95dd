"""Benchmark scripts (run as ``python benchmarks/NAME.py``); shared helpers."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def write_result(report: dict, stem: str, out: Path | None = None) -> Path:
    """Write ``report`` as JSON, atomically, to ``out`` or to
    ``results/<stem>-<date>.json`` (with the UTC time appended when that file
    exists: an earlier run of the same day is never overwritten)."""
    from data.cache import atomic_path

    if out is None:
        now = datetime.now(timezone.utc)
        out = RESULTS / f"{stem}-{now:%Y-%m-%d}.json"
        if out.exists():
            out = out.with_name(f"{out.stem}-{now:%H%M%S}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps(report, indent=2) + "\n")
    return out
