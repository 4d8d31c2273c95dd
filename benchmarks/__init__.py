"""Benchmark scripts (run as ``python benchmarks/NAME.py``); shared helpers."""

from __future__ import annotations

import json
import platform
from datetime import datetime, timezone
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def write_result(report: dict, stem: str, out: Path | None = None) -> Path:
    """Write ``report`` as JSON to ``out``, or to a new file
    ``results/<stem>-<date>[-<HHMMSS>[-<k>]].json``: an earlier result is never
    overwritten, not even one written in the same second or by another process
    (the name is claimed with an exclusive hard link of the finished file)."""
    text = json.dumps(report, indent=2) + "\n"
    if out is not None:
        from data.cache import atomic_path

        with atomic_path(out) as tmp:
            tmp.write_text(text)
        return out
    now = datetime.now(timezone.utc)
    from data.cache import write_new

    base = f"{stem}-{now:%Y-%m-%d}"
    names = [base, f"{base}-{now:%H%M%S}"] + [f"{base}-{now:%H%M%S}-{k}" for k in range(2, 1000)]
    try:
        return write_new((RESULTS / f"{name}.json" for name in names),
                         lambda tmp: tmp.write_text(text))
    except FileExistsError:
        raise OSError(f"{RESULTS}: no free result name for {stem!r} today") from None


FLAGS_OF_INTEREST = ("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")


def cpu_description() -> dict:
    """The CPU model and the flags that decide speed (bf16, AMX) for a result file."""
    from core.precision import cpu_flags

    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and model in ("", platform.machine()):
                model = line.partition(":")[2].strip()
    except OSError:
        pass
    flags = cpu_flags()
    return {"model": model, "flags": [f for f in FLAGS_OF_INTEREST if f in flags]}


def training_seconds(run_dir: str | Path) -> float:
    """Wall seconds of a training run's steps, summed over its sessions (the
    ``seconds`` of its ``history.json`` rows restart at each resume)."""
    rows = json.loads((Path(run_dir) / "history.json").read_text())
    total, last = 0.0, 0.0
    for row in rows:
        if row["seconds"] < last:  # a new session
            total += last
        last = row["seconds"]
    return total + last
