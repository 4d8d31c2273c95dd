"""``python -m faceswap convert``: swap the faces of one identity in an image
or video with a trained run, and paste them back.

Each frame: detect faces, embed each at its landmarks and keep those nearer
the direction's source identity (the run's training centroid of A for AtoB)
than the other; align them exactly as extraction did, run the swapper, and
paste the swapped crops back through the inverse alignment with a feathered
mask and colour matching (:func:`faceswap.blend.paste_back`). Frames without
a face are copied unchanged; size, fps and frame count are kept. Outputs are
written atomically and marked synthetic (PNG metadata; video: a visible label
unless ``--no-label`` and a JSON sidecar).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .extract import IMAGE_SUFFIXES
from .metrics import box_iou

__all__ = ["DIRECTIONS", "FrameSwapper", "MASKS", "convert_file"]

#: direction -> (identity whose faces are swapped, identity they become)
DIRECTIONS = {"AtoB": ("A", "B"), "BtoA": ("B", "A")}
#: what a swapped face is pasted back with (see :class:`FrameSwapper`)
MASKS = ("learned", "hull")
#: a face inherits the identity decision of the face it overlaps this much
#: (IoU) in the previous frame of the same shot; everything is re-embedded at
#: least this often (frames) and after a cut
_TRACK_IOU, _REEMBED_EVERY, _CUT = 0.5, 12, 20.0


@dataclass
class _Counts:
    frames: int = 0
    swapped: int = 0
    no_face: int = 0
    other: int = 0  # faces left alone: nearer the other identity


class FrameSwapper:
    """Swaps the source identity's faces in RGB uint8 frames with ``swapper``
    (an object with ``.size``, ``.centroids`` {"A", "B": (128,)} and
    ``.swap(crops (N,S,S,3) uint8, direction) -> (faces, masks or None)``,
    as from :func:`faceswap.train.load_swapper`). ``mask``: "learned" pastes
    with the swapper's own mask when it has one (the autoencoder's, grown
    beyond the face), "hull" always with the landmark hull plus forehead
    (leaves everything outside the face untouched)."""

    def __init__(self, swapper: Any, direction: str, *, detector: str = "hog",
                 colour: bool = True, seamless: bool = False, mask: str = "learned") -> None:
        from .faces import FaceTools

        if direction not in DIRECTIONS:
            raise ValueError(f"--direction: expected AtoB or BtoA, got {direction!r}")
        self.swapper, self.direction = swapper, direction
        src, dst = DIRECTIONS[direction]
        self.centroids = (np.asarray(swapper.centroids[src], np.float32),
                          np.asarray(swapper.centroids[dst], np.float32))
        self.tools = FaceTools(detector)
        if mask not in MASKS:
            raise ValueError(f"--mask: expected one of {', '.join(MASKS)}, got {mask!r}")
        self.colour, self.seamless, self.mask = colour, seamless, mask
        self.counts = _Counts()
        self._previous: list[tuple[tuple[int, int, int, int], bool]] = []
        self._thumb: np.ndarray | None = None
        self._age = 0

    def is_source(self, rgb: np.ndarray, landmarks: np.ndarray) -> bool:
        """Whether the face at ``landmarks`` is nearer the source identity's
        centroid than the other's (dlib embedding, Euclidean)."""
        e = self.tools.embed(rgb, landmarks)
        return bool(np.linalg.norm(e - self.centroids[0]) < np.linalg.norm(e - self.centroids[1]))

    def _decide(self, rgb: np.ndarray, faces: list) -> list[bool]:
        """Which faces are the source identity. The dlib embedding costs
        several times the detection (0.1-0.3 s a face on 2 cores), so within a
        shot a face overlapping one of the previous frame (IoU >= 0.5) keeps
        its decision; a cut (the frame's 32x24 grey thumbnail changes by a
        mean of > 20 levels) or 12 frames re-embed all."""
        import cv2

        thumb = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (32, 24),
                           interpolation=cv2.INTER_AREA).astype(np.float32)
        cut = self._thumb is None or float(np.abs(thumb - self._thumb).mean()) > _CUT
        self._thumb = thumb
        fresh = cut or self._age >= _REEMBED_EVERY
        self._age = 0 if fresh else self._age + 1
        decisions = []
        for f in faces:
            match = None if fresh else max(((box_iou(f.box, b), d) for b, d in self._previous),
                                            default=None)
            if match is not None and match[0] >= _TRACK_IOU:
                decisions.append(match[1])
            else:
                decisions.append(self.is_source(rgb, f.landmarks))
        self._previous = [(f.box, d) for f, d in zip(faces, decisions)]
        return decisions

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        """One frame in, the same-size frame out (``rgb`` itself when nothing is swapped)."""
        self.counts.frames += 1
        faces = self.tools.detect(rgb)
        if not faces:
            self.counts.no_face += 1
            self._previous = []
            return rgb
        chosen = [f.landmarks for f, mine in zip(faces, self._decide(rgb, faces)) if mine]
        self.counts.other += len(faces) - len(chosen)
        self.counts.swapped += len(chosen)
        return self.swap_at(rgb, chosen)

    def swap_at(self, rgb: np.ndarray, landmarks: list[np.ndarray]) -> np.ndarray:
        """Swap the faces at the given 68-point ``landmarks`` (frame pixels;
        no detection, no identity check) and paste them back: aligned as
        extraction aligns, the swapper's masks or else the landmark hull with
        forehead (``faceswap.align.face_mask``). Returns ``rgb`` itself when
        ``landmarks`` is empty, else a new frame."""
        from .align import align_face, face_mask, transform_points
        from .blend import paste_back

        if not len(landmarks):
            return rgb
        size = int(self.swapper.size)
        aligned = [align_face(rgb, lm, size) for lm in landmarks]
        swapped, masks = self.swapper.swap(np.stack([crop for crop, _ in aligned]),
                                           self.direction)
        out = rgb
        for k, (face, (_, matrix)) in enumerate(zip(swapped, aligned)):
            if masks is not None and self.mask == "learned":
                mask = masks[k]
            else:
                mask = face_mask(transform_points(landmarks[k], matrix), (size, size))
            out = paste_back(out, np.asarray(face, np.uint8), matrix, mask,
                             colour=self.colour, seamless=self.seamless)
        return out


def _check_output(input: Path, output: Path, force: bool) -> bool:
    """Validate the pair; True for an image input."""
    from .video import check_video_output

    if not input.exists():
        raise ValueError(f"{input}: file not found")
    if input.is_dir():
        raise ValueError(f"{input}: is a directory, expected an image or a video")
    if input.suffix.lower() in IMAGE_SUFFIXES:
        if output.suffix.lower() != ".png":
            raise ValueError(f"--output: {output}: an image input gives a .png output")
        if output.exists() and not force:
            raise ValueError(f"{output}: exists; pass --force to replace it")
        return True
    check_video_output(output, force=force)
    return False


def convert_file(run: str | os.PathLike, input: str | os.PathLike, output: str | os.PathLike,
                 *, direction: str = "AtoB", label: bool = True, detector: str = "hog",
                 force: bool = False, progress: bool = True, colour: bool = True,
                 seamless: bool = False, swapper: Any = None, mask: str = "learned") -> str:
    """Swap the faces of ``input`` (image or video) and write ``output``;
    return a one-line summary (frames, faces swapped, frames without a face,
    conversion frames per second).

    ``swapper``: a ready Swapper (default: ``faceswap.train.load_swapper(run)``;
    ``run`` is then only recorded in the provenance). Image in -> PNG out
    (IPTC compositeWithTrainedAlgorithmicMedia); video in -> .mp4/.avi of the
    same size, fps and frame count, labelled "AI-generated" unless not
    ``label``, with a JSON sidecar.

    Raises:
      ValueError: one line naming the file or flag: missing/unreadable input,
        an image without a face of the source identity, output exists
        (without ``force``) or has the wrong extension.
    """
    input, output = Path(input), Path(output)
    is_image = _check_output(input, output, force)
    if is_image:  # decode before loading the model: a bad file fails fast
        from data.images import load_image, to_uint8

        frames_in = [to_uint8(load_image(input, max_side=None))]
    else:
        from .video import VideoReader

        reader = VideoReader(input)
    if swapper is None:  # after the input checks: bad input fails before TensorFlow loads
        from core.env import quiet_tensorflow

        quiet_tensorflow()
        from .train import load_swapper

        swapper = load_swapper(run)
    swap = FrameSwapper(swapper, direction, detector=detector, colour=colour,
                        seamless=seamless, mask=mask)
    params = {"method": "convert", "run": str(run), "direction": direction,
              "input": input.name, "detector": detector, "colour": colour,
              "seamless": seamless, "mask": mask}
    start = time.perf_counter()
    if is_image:
        out = swap(frames_in[0])
        c = swap.counts
        if c.swapped == 0:
            found = "no face found" if c.no_face else (
                f"no face of identity {DIRECTIONS[direction][0]} ({c.other} of the other identity)")
            raise ValueError(f"{input}: {found}, nothing to swap ({direction})")
        from data.images import save_image

        save_image(output, out.astype(np.float32) / 255.0, generator="faceswap convert",
                   params=params, source_type="compositeWithTrainedAlgorithmicMedia")
        h, w = out.shape[:2]
        return (f"{output}: {w}x{h}, {c.swapped} face(s) swapped {direction}"
                f"{f', {c.other} of the other identity kept' if c.other else ''}")
    from tqdm.auto import tqdm

    from .video import video_writer

    params["label"] = label
    with video_writer(output, reader.fps, reader.size, generator="faceswap convert",
                      params=params, label=label) as write:
        for frame in tqdm(reader, total=reader.count, unit="frame", disable=not progress,
                          desc=input.name, leave=False):
            write(swap(frame))
    seconds = time.perf_counter() - start
    c = swap.counts
    w, h = reader.size
    note = "" if label else "; no visible label (--no-label), the sidecar still marks it synthetic"
    return (f"{output}: {c.frames} frames {w}x{h} at {reader.fps:g} fps, {c.swapped} faces "
            f"swapped {direction}, {c.no_face} frames without a face, {c.other} faces of the "
            f"other identity kept; {c.frames / max(seconds, 1e-9):.1f} frames/s{note}")
