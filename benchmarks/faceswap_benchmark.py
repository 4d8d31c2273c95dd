"""Face swap on held-out frames: the floor (no swap), the classical swap, the
autoencoder and CycleGAN side by side, both directions, plus what each costs.

    python -m faceswap extract megamind --out build/faces/megamind --identities 2
    python -m faceswap train --run runs/fs-ae --a build/faces/megamind/identity_0 \\
        --b build/faces/megamind/identity_1
    python benchmarks/faceswap_benchmark.py --run runs/fs-ae [--cyclegan-run runs/fs-cg]

Writes ``benchmarks/results/faceswap-DATE.json`` (never overwriting one) with
the CPU model and flags, and a figure strip (target frame | classical |
autoencoder | CycleGAN on held-out frames, cropped around the face) to
``figures/faceswap_strip.png``, marked as a synthetic composite.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.env import quiet_tensorflow  # noqa: E402

tf = quiet_tensorflow()

import numpy as np  # noqa: E402

from benchmarks import cpu_description, training_seconds, write_result  # noqa: E402
from faceswap.evaluate import (DIRECTIONS, classical_method, evaluate_swaps,  # noqa: E402
                               face_thumbnail, model_method, no_swap)
from faceswap.extract import load_faces  # noqa: E402
from faceswap.train import load_swapper  # noqa: E402

COLUMNS = ("target", "classical", "autoencoder", "cyclegan")


def conversion_fps(run: str, source: str, frames: int) -> dict:
    """``convert``'s speed on the first ``frames`` frames of ``source``
    (detection, embedding, swap, paste-back and the video writer)."""
    from faceswap.convert import convert_file
    from faceswap.extract import iter_frames
    from faceswap.video import video_writer

    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "clip.avi"
        _, it = iter_frames(source)
        first = []
        for _, rgb in it:
            first.append(rgb)
            if len(first) == frames:
                break
        h, w = first[0].shape[:2]
        with video_writer(clip, 23.976, (w, h), generator="faceswap benchmark (input excerpt)",
                          label=False) as write:
            for rgb in first:
                write(rgb)
        start = time.perf_counter()
        convert_file(run, clip, Path(tmp) / "out.avi", direction="AtoB", label=True,
                     detector="hog", force=False, progress=False)
        seconds = time.perf_counter() - start
    return {"frames": len(first), "size": [w, h], "seconds": seconds,
            "fps": len(first) / seconds}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", required=True, help="autoencoder run folder")
    ap.add_argument("--cyclegan-run", help="CycleGAN run folder on the same faces (optional)")
    ap.add_argument("--max-frames", type=int, default=None,
                    help="held-out frames per direction (default all)")
    ap.add_argument("--fps-frames", type=int, default=48,
                    help="frames of the clip converted to time `convert` (default 48)")
    ap.add_argument("--strip", type=Path, default=ROOT / "figures" / "faceswap_strip.png",
                    help="figure strip to write (default figures/faceswap_strip.png)")
    ap.add_argument("--out", type=Path, help="result JSON (default: a new dated file)")
    args = ap.parse_args(argv)

    ae = load_swapper(args.run)
    faces = {"A": load_faces(ae.config.a), "B": load_faces(ae.config.b)}
    methods = {"none": no_swap, "classical": classical_method,
               "autoencoder": model_method(ae),
               "autoencoder_hull_mask": model_method(ae, mask="hull")}
    runs = {"autoencoder": ae}
    if args.cyclegan_run:
        cg = load_swapper(args.cyclegan_run)
        if (cg.config.a, cg.config.b) != (ae.config.a, ae.config.b):
            raise SystemExit(f"--cyclegan-run {args.cyclegan_run}: trained on other faces "
                             f"folders than --run ({cg.config.a}, {cg.config.b})")
        methods["cyclegan"] = model_method(cg)
        runs["cyclegan"] = cg
    kept: dict[tuple[str, str, int], np.ndarray] = {}
    def strip_rows(t: str) -> set[int]:  # two frames per direction among those evaluated
        rows = np.flatnonzero(faces[t].held_out)[:args.max_frames]
        return {int(faces[t].frame[r]) for r in rows[[len(rows) // 4, (3 * len(rows)) // 4]]}

    picks = {d: strip_rows(t) for d, (t, _) in DIRECTIONS.items()}

    def keep(method, direction, frame, swapped):
        if frame in picks[direction]:
            kept[(method, direction, frame)] = swapped

    scores = evaluate_swaps(faces, ae.centroids, methods, max_frames=args.max_frames, keep=keep)
    report = {"cpu": cpu_description(), "tensorflow": tf.__version__,
              "faces": {k: str(v.folder) for k, v in faces.items()}, **scores, "runs": {}}
    for name, swapper in runs.items():
        report["runs"][name] = {"run": swapper.config.run_dir, "step": int(swapper.step),
                                "training_seconds": training_seconds(swapper.config.run_dir),
                                "options": json.loads((Path(swapper.config.run_dir) /
                                                       "options.json").read_text())}
    report["conversion"] = conversion_fps(args.run, faces["A"].source, args.fps_frames)

    print(f"CPU: {report['cpu']['model']}  flags: {' '.join(report['cpu']['flags'])}")
    head = ("identity", "donor_distance", "target_distance", "redetected", "landmark_error",
            "psnr_outside_db")
    print(f"{'method':22s}{'dir':6s}" + "".join(f"{h:>17s}" for h in head))
    for name, by_dir in scores["methods"].items():
        for direction, s in by_dir.items():
            print(f"{name:22s}{direction:6s}" + "".join(f"{s[h]:17.3f}" for h in head))
    print("real donor faces, distance to own centroid:",
          {k: round(v, 3) for k, v in scores["real_donor_distance"].items()})
    for name, r in report["runs"].items():
        print(f"{name}: {r['step']} steps in {r['training_seconds'] / 60:.1f} min")
    print(f"convert: {report['conversion']['fps']:.2f} frames/s at "
          f"{report['conversion']['size'][0]}x{report['conversion']['size'][1]}")
    print("written", write_result(report, "faceswap", args.out))

    # the strip: one row per kept frame, target | classical | autoencoder | CycleGAN
    from data.images import save_image

    rows = []
    for direction, (t, _) in DIRECTIONS.items():
        f = faces[t]
        for frame in sorted(picks[direction]):
            r = int(np.flatnonzero(f.frame == frame)[0])
            cells = [face_thumbnail(kept[("none", direction, frame)], f.box[r])]
            for method in COLUMNS[1:]:
                img = kept.get((method, direction, frame))
                cells.append(face_thumbnail(img, f.box[r]) if img is not None
                             else np.full_like(cells[0], 255))
            rows.append(np.concatenate(cells, axis=1))
    strip = np.concatenate(rows, axis=0)
    save_image(args.strip, strip.astype(np.float32) / 255.0, generator="faceswap benchmark",
               params={"columns": COLUMNS, "run": args.run, "cyclegan_run": args.cyclegan_run},
               source_type="compositeWithTrainedAlgorithmicMedia")
    print("strip", args.strip)


if __name__ == "__main__":
    main()
