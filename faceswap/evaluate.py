"""Held-out evaluation of a face-swap run, with its floor and baseline.

For each direction (``AtoB``: frames of A receive B's identity) and each
method (``none``: the frame untouched, the floor; ``classical``: the
Delaunay swap from B's training face of the nearest pose; the run's model)
every held-out frame of the target identity is swapped at its KNOWN
landmarks, then measured:

- identity: the dlib embedding of the swapped frame, taken at the target's
  landmarks (no fresh detection), nearer the donor's training centroid than
  the target's? (:func:`faceswap.metrics.identity_transfer`)
- re-detected: does the detector still find a face on the swapped frame
  (box IoU >= 0.5 with the original face's box)?
- landmark error: dlib's 68 points predicted on the swapped frame in the
  original box vs those of the original frame, over the inter-ocular distance
- PSNR outside the face: pixels outside the landmark hull (with forehead,
  grown by ``REGION_GROW`` x the inter-ocular distance) should be left
  unchanged; a paste-back mask wider than the face lowers it. Measured on
  the frames before any video encoding.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .align import transform_points
from .convert import DIRECTIONS  # (target identity, donor identity)
from .metrics import box_iou, identity_transfer, landmark_error, psnr_outside

__all__ = ["DIRECTIONS", "REGION_GROW", "evaluate_run", "evaluate_swaps", "face_thumbnail",
           "held_out_frames", "nearest_pose"]

#: the face region a swap may change: landmark hull + forehead, grown by this x inter-ocular
#: (0: the face itself, as the issue's "non-face region"; the classical swap stays inside it)
REGION_GROW = 0.0
REDETECT_IOU = 0.5


def read_frames(source: str | os.PathLike, wanted: set[int]) -> dict[int, np.ndarray]:
    """RGB uint8 frames of a video (or images of a folder) by index."""
    from .extract import iter_frames

    _, frames = iter_frames(source)
    out = {}
    for index, rgb in frames:
        if index in wanted:
            out[index] = rgb
        if len(out) == len(wanted):
            break
    missing = wanted - set(out)
    if missing:
        raise ValueError(f"{source}: frames {sorted(missing)[:5]} not found (has the video "
                         "changed since extraction?)")
    return out


def held_out_frames(faces) -> np.ndarray:
    """Row indices of the held-out faces of a :class:`faceswap.extract.Faces`."""
    return np.flatnonzero(faces.held_out)


def nearest_pose(target_lm: np.ndarray, target_matrix: np.ndarray, donor_lm: np.ndarray,
                 donor_matrix: np.ndarray) -> int:
    """Index of the donor face (``(M, 68, 2)`` landmarks, ``(M, 2, 3)``
    alignments) whose aligned landmarks are nearest the target's: the
    classical swap's best single donor image for that pose and expression."""
    t = transform_points(target_lm, target_matrix)
    d = np.stack([transform_points(lm, m) for lm, m in zip(donor_lm, donor_matrix)])
    return int(np.argmin(np.linalg.norm(d - t, axis=-1).mean(-1)))


def _measure(tools, original: np.ndarray, swapped: np.ndarray, landmarks: np.ndarray,
             box: np.ndarray) -> dict[str, Any]:
    from .align import face_mask

    emb = tools.embed(swapped, landmarks)
    found = [b for b in tools.boxes(swapped) if box_iou(b, tuple(box)) >= REDETECT_IOU]
    moved = tools.landmarks(swapped, tuple(int(v) for v in box))
    region = face_mask(landmarks, original.shape, grow=REGION_GROW)
    return {"embedding": emb, "redetected": bool(found),
            "landmark_error": float(landmark_error(moved, landmarks)),
            "psnr_outside": psnr_outside(original, swapped, region)}


def _summary(rows: list[dict[str, Any]], donor: np.ndarray, target: np.ndarray
             ) -> dict[str, Any]:
    """One method and direction over its frames: identity fraction and mean
    distances, re-detection fraction, mean landmark error (/ inter-ocular),
    ``psnr_outside_db`` the WORST frame's (min; capped at 99 dB when
    bit-identical) and mean seconds per swap."""
    ident = identity_transfer(np.stack([r["embedding"] for r in rows]), donor, target)
    psnr = np.array([r["psnr_outside"] for r in rows])
    return {"identity": ident["fraction"], "donor_distance": ident["donor_distance"],
            "target_distance": ident["target_distance"],
            "redetected": float(np.mean([r["redetected"] for r in rows])),
            "landmark_error": float(np.mean([r["landmark_error"] for r in rows])),
            "psnr_outside_db": float(psnr.min()), "frames": len(rows),
            "seconds_per_frame": float(np.mean([r["seconds"] for r in rows]))}


def evaluate_swaps(faces: dict[str, Any], centroids: dict[str, np.ndarray],
                   methods: dict[str, Callable[..., np.ndarray]], *, detector: str = "hog",
                   max_frames: int | None = None,
                   keep: Callable[[str, str, int, np.ndarray], None] | None = None
                   ) -> dict[str, Any]:
    """Every method on the held-out frames of both directions.

    ``faces``: {"A": Faces, "B": Faces} (:func:`faceswap.extract.load_faces`);
    ``centroids``: {"A", "B": (128,)} of the training faces; ``methods``:
    name -> ``fn(frame, landmarks, direction, donor) -> swapped frame``
    (uint8, same shape), where ``donor`` is ``(donor_frame, donor_landmarks)``
    of the nearest-pose training face of the donor identity. ``keep``, if
    given, receives ``(method, direction, frame_index, swapped)`` (for
    figures). Returns ``{"methods": {name: {direction: summary}},
    "real_donor_distance": {...}}``.
    """
    from .faces import FaceTools

    tools = FaceTools(detector)
    for k in ("A", "B"):
        if not faces[k].held_out.any():
            raise ValueError(f"{faces[k].folder}: no held-out faces (extract with --held-out > 0)")
    # frames: the targets' held-out ones and, for the classical swap, the donors' chosen ones
    plan, wanted = {}, {}
    for direction, (t, d) in DIRECTIONS.items():
        ft, fd = faces[t], faces[d]
        rows = held_out_frames(ft)[:max_frames]
        train = np.flatnonzero(~fd.held_out)
        donors = [train[nearest_pose(ft.landmarks[r], ft.matrix[r], fd.landmarks[train],
                                     fd.matrix[train])] for r in rows]
        plan[direction] = list(zip(rows, donors))
        wanted.setdefault(ft.source, set()).update(int(ft.frame[r]) for r in rows)
        wanted.setdefault(fd.source, set()).update(int(fd.frame[r]) for r in donors)
    frames = {src: read_frames(src, idx) for src, idx in wanted.items()}
    out: dict[str, Any] = {"methods": {}, "real_donor_distance": {}}
    for name, fn in methods.items():
        out["methods"][name] = {}
        for direction, (t, d) in DIRECTIONS.items():
            ft, fd = faces[t], faces[d]
            rows = []
            for r, dr in plan[direction]:
                frame = frames[ft.source][int(ft.frame[r])]
                donor = (frames[fd.source][int(fd.frame[dr])], fd.landmarks[dr])
                start = time.perf_counter()
                swapped = fn(frame, ft.landmarks[r], direction, donor)
                seconds = time.perf_counter() - start
                if swapped.shape != frame.shape or swapped.dtype != np.uint8:
                    raise ValueError(f"method {name!r} returned {swapped.dtype} {swapped.shape}"
                                     f" for a {frame.shape} uint8 frame")
                if keep is not None:
                    keep(name, direction, int(ft.frame[r]), swapped)
                row = _measure(tools, frame, swapped, ft.landmarks[r], ft.box[r])
                rows.append({**row, "seconds": seconds})
            out["methods"][name][direction] = _summary(rows, centroids[d], centroids[t])
    for direction, (t, d) in DIRECTIONS.items():
        # what a real face of the donor scores: its held-out frames against the centroids
        real = identity_transfer(faces[d].embedding[faces[d].held_out], centroids[d],
                                 centroids[t])
        out["real_donor_distance"][direction] = real["donor_distance"]
    return out


def face_thumbnail(frame: np.ndarray, box, *, scale: float = 1.8, size: int = 160
                   ) -> np.ndarray:
    """A square uint8 ``(size, size, 3)`` view of ``frame`` around ``box``
    (x0, y0, x1, y1) enlarged ``scale`` times, for figures (border repeated)."""
    import cv2

    x0, y0, x1, y1 = (float(v) for v in box)
    half = scale * max(x1 - x0, y1 - y0) / 2
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    k = size / (2 * half)
    matrix = np.float32([[k, 0, size / 2 - k * cx], [0, k, size / 2 - k * cy]])
    return cv2.warpAffine(frame, matrix, (size, size), flags=cv2.INTER_AREA,
                          borderMode=cv2.BORDER_REPLICATE)


def classical_method(frame: np.ndarray, landmarks: np.ndarray, direction: str,
                     donor: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """The classical baseline as an :func:`evaluate_swaps` method."""
    from .classical import classical_swap

    return classical_swap(donor[0], donor[1], frame, landmarks)[0]


def no_swap(frame: np.ndarray, landmarks: np.ndarray, direction: str, donor: Any) -> np.ndarray:
    """The floor: the frame as it is."""
    return frame


def model_method(swapper, *, detector: str = "hog", colour: bool = True,
                 seamless: bool = False, mask: str = "learned") -> Callable[..., np.ndarray]:
    """A trained run (:func:`faceswap.train.load_swapper`) as a method: the
    same path as ``convert`` (``mask`` as its ``--mask``), at the known landmarks."""
    from .convert import FrameSwapper

    by_direction = {d: FrameSwapper(swapper, d, detector=detector, colour=colour,
                                    seamless=seamless, mask=mask) for d in DIRECTIONS}

    def method(frame, landmarks, direction, donor):
        return by_direction[direction].swap_at(frame, [landmarks])
    return method


def evaluate_run(run: str | os.PathLike, *, max_frames: int | None = None,
                 baselines: bool = True, detector: str = "hog") -> dict[str, Any]:
    """``python -m faceswap evaluate``: the run's model, and (``baselines``)
    no swap and the classical swap, on the held-out frames of the run's
    faces folders (``--a``, ``--b``)."""
    from .extract import load_faces
    from .train import load_swapper

    swapper = load_swapper(run)
    cfg = swapper.config
    faces = {"A": load_faces(cfg.a), "B": load_faces(cfg.b)}
    methods: dict[str, Callable[..., np.ndarray]] = {}
    if baselines:
        methods.update({"none": no_swap, "classical": classical_method})
    methods[cfg.model] = model_method(swapper, detector=detector)
    out = evaluate_swaps(faces, swapper.centroids, methods, detector=detector,
                         max_frames=max_frames)
    out.update(run=str(Path(run)), step=int(swapper.step), model=cfg.model)
    return out
