"""Extract aligned faces from a video, a folder of images or one image.

One faces folder (an identity) holds ``NNNNNN.png`` aligned RGB crops (real
crops of the source, not synthetic) and ``faces.npz``:

    frame (N,) int32        frame index in the video (or image index in the sorted folder)
    landmarks (N, 68, 2) f32 dlib landmarks in frame pixels
    matrix (N, 2, 3) f32    frame -> crop alignment (cv2.warpAffine)
    embedding (N, 128) f32  dlib face descriptor at those landmarks
    box (N, 4) i32          detector box (x0, y0, x1, y1)
    held_out (N,) bool      the last contiguous ``held_out`` fraction of the frames
    size () int             crop side in pixels
    source str              the source as given
    frame_shape (3,) int32  (H, W, 3) of the frames (of the first image for a folder)
    names (N,) str          the PNG names

With ``identities=K > 1`` the faces are clustered into K identities by k-means
on their embeddings and written to OUT/identity_0 ... (largest first).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["Faces", "MIN_FACES_PER_IDENTITY", "extract_faces", "iter_frames", "load_faces"]

MIN_FACES_PER_IDENTITY = 8
#: what data.images.load_image decodes (the reader of swap, convert and extract)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
VIDEO_SUFFIXES = (".avi", ".mp4", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
_ARRAYS = ("frame", "landmarks", "matrix", "embedding", "box", "held_out", "names")


@dataclass
class Faces:
    """The contents of one faces folder (see the module docstring for shapes)."""

    folder: Path
    frame: np.ndarray
    landmarks: np.ndarray
    matrix: np.ndarray
    embedding: np.ndarray
    box: np.ndarray
    held_out: np.ndarray
    names: np.ndarray
    size: int
    source: str
    frame_shape: tuple[int, int, int]
    _crops: np.ndarray | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def crops(self) -> np.ndarray:
        """All aligned crops uint8 (N, S, S, 3) RGB, read on first use."""
        if self._crops is None:
            self._crops = read_crops(self.folder, self.names)
        return self._crops


def read_crops(folder: str | os.PathLike, names) -> np.ndarray:
    """RGB uint8 (N, S, S, 3) of the PNGs ``names`` in ``folder``."""
    import cv2

    out = []
    for name in names:
        path = Path(folder) / str(name)
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise OSError(f"{path}: missing or not a readable image")
        out.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    return np.stack(out) if out else np.zeros((0, 0, 0, 3), np.uint8)


def load_faces(folder: str | os.PathLike) -> Faces:
    """Read a faces folder written by :func:`extract_faces` (crops load on demand)."""
    folder = Path(folder)
    path = folder / "faces.npz"
    if not path.is_file():
        hint = ""
        if (folder / "identity_0" / "faces.npz").is_file():
            hint = f" (it holds identities: pass {folder / 'identity_0'}, ...)"
        raise ValueError(f"{folder}: not a faces folder, no faces.npz{hint}")
    with np.load(path, allow_pickle=False) as z:
        return Faces(folder=folder, **{k: z[k] for k in _ARRAYS}, size=int(z["size"]),
                     source=str(z["source"]), frame_shape=tuple(int(v) for v in z["frame_shape"]))


# -- sources --------------------------------------------------------------------------
def _stored_source(source: str | os.PathLike) -> str:
    """``source`` as faces.npz keeps it: "megamind", or an absolute path (so
    evaluation can reread the frames from any working directory)."""
    return "megamind" if str(source) == "megamind" else str(Path(source).resolve())


def _resolve(source: str | os.PathLike) -> tuple[str, Path]:
    """("video" | "images", path)."""
    if str(source) == "megamind":
        from data.faces import megamind_path

        return "video", megamind_path()
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(2, "no such file or folder", str(path))
    if path.is_dir():
        return "images", path
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return "images", path
    return "video", path


def _images(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    files = sorted(p for p in path.iterdir()
                   if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"{path}: no images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
    return files


def iter_frames(source: str | os.PathLike, every: int = 1) -> tuple[int, Iterator[tuple[int, np.ndarray]]]:
    """(number of frames to expect, iterator of (index, RGB uint8 frame)):
    every ``every``-th frame of a video, or the images of a folder in name order."""
    import cv2

    kind, path = _resolve(source)
    if kind == "images":
        files = _images(path)[::every]

        def gen_images():
            from data.images import load_image, to_uint8

            for k, f in enumerate(files):  # upright (EXIF), one-line ValueError naming f
                yield k * every, to_uint8(load_image(f, max_side=None))
        return len(files), gen_images()

    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise ValueError(f"{path}: not a readable video (OpenCV could not open it)")
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    ok, first = cap.read()
    if not ok:
        cap.release()
        raise ValueError(f"{path}: not a readable video (no frame could be decoded)")

    def gen_video():
        try:
            index, frame = 0, first
            while True:
                yield index, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                for _ in range(every - 1):  # grab() skips decoding-to-BGR
                    if not cap.grab():
                        return
                index += every
                ok, frame = cap.read()
                if not ok:
                    return
        finally:
            cap.release()
    return -(-count // every) if count > 0 else 0, gen_video()


# -- clustering -----------------------------------------------------------------------
def kmeans(x: np.ndarray, k: int, iters: int = 100) -> np.ndarray:
    """Labels (N,) int of a deterministic k-means on ``x`` (N, D): farthest-point
    initialisation from the point nearest the mean, then Lloyd iterations."""
    x = np.asarray(x, np.float64)
    centres = [x[np.argmin(((x - x.mean(0)) ** 2).sum(1))]]
    for _ in range(1, k):
        d = np.min([((x - c) ** 2).sum(1) for c in centres], axis=0)
        centres.append(x[np.argmax(d)])
    c = np.array(centres)
    labels = None
    for _ in range(iters):
        new = np.argmin(((x[:, None] - c[None]) ** 2).sum(-1), axis=1)
        if labels is not None and np.array_equal(new, labels):
            break
        labels = new
        c = np.array([x[labels == j].mean(0) if np.any(labels == j) else c[j] for j in range(k)])
    return labels


# -- extraction -----------------------------------------------------------------------
def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        what = "holds faces already" if (out / "faces.npz").exists() or \
            (out / "identity_0").exists() else "exists and is not an empty folder"
        raise ValueError(f"--out {out}: {what}; choose a new folder (nothing was written)")


def extract_faces(source: str | os.PathLike, out: str | os.PathLike, *, size: int = 128,
                  identities: int = 1, held_out: float = 0.15, detector: str = "hog",
                  min_face: int = 80, every: int = 1, progress: bool = True) -> str:
    """Detect, landmark, embed and align the faces of ``source`` (video, folder
    of images, one image, or "megamind") into the faces folder ``out`` (or
    ``out/identity_K`` for ``identities > 1``); returns a one-line summary.

    Faces narrower than ``min_face`` px are ignored. With one identity the
    largest face of a frame is kept (a warning counts frames with several);
    with several, every face is kept and clustered, at most one per frame and
    identity (the largest). Written into a temporary folder beside ``out`` and
    renamed at the end: an interrupted run leaves nothing behind.
    """
    import cv2

    from .align import align_face
    from .faces import FaceTools

    out = Path(out)
    if size < 16:
        raise ValueError(f"--size: expected at least 16 px, got {size}")
    if every < 1 or min_face < 1 or identities < 1:
        raise ValueError("--every, --min-face and --identities: expected numbers >= 1, got "
                         f"{every}, {min_face}, {identities}")
    if not 0.0 <= held_out < 1.0:
        raise ValueError(f"--held-out: expected a fraction in [0, 1), got {held_out}")
    _check_out(out)
    tools = FaceTools(detector)
    total, frames = iter_frames(source, every)

    rows, crops = [], []
    n_frames = n_faceless = n_several = 0
    frame_shape = None
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total or None, unit="frame", desc="extract", leave=False)
    try:
        for index, rgb in frames:
            n_frames += 1
            if frame_shape is None:
                frame_shape = rgb.shape
            boxes = [b for b in tools.boxes(rgb) if b[2] - b[0] >= min_face]
            if not boxes:
                n_faceless += 1
            if len(boxes) > 1:
                n_several += 1
                if identities == 1:
                    boxes = boxes[:1]
            for box in boxes:
                lm = tools.landmarks(rgb, box)
                crop, matrix = align_face(rgb, lm, size)
                rows.append((index, lm, matrix, tools.embed(rgb, lm), box))
                crops.append(crop)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(faces=len(rows), refresh=False)
    finally:
        if bar is not None:
            bar.close()

    need = MIN_FACES_PER_IDENTITY * identities
    if len(rows) < need:
        raise ValueError(f"{source}: found {len(rows)} faces >= {min_face} px in {n_frames} "
                         f"frames, need at least {need} ({MIN_FACES_PER_IDENTITY} per identity "
                         f"for --identities {identities})")
    if n_several and identities == 1:
        warnings.warn(f"{source}: {n_several} frames with several faces, using the largest",
                      stacklevel=2)

    emb = np.stack([r[3] for r in rows])
    groups = [np.arange(len(rows))]
    if identities > 1:
        labels = kmeans(emb, identities)
        groups = sorted((np.flatnonzero(labels == j) for j in range(identities)),
                        key=lambda g: -len(g))
        groups = [_one_per_frame(g, rows) for g in groups]
        small = [len(g) for g in groups if len(g) < MIN_FACES_PER_IDENTITY]
        if small:
            raise ValueError(f"{source}: clustering into {identities} identities left one with "
                             f"only {small[0]} faces (need {MIN_FACES_PER_IDENTITY}); try "
                             f"fewer --identities or a longer source")

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent))
    try:
        for j, idx in enumerate(groups):
            folder = tmp if identities == 1 else tmp / f"identity_{j}"
            folder.mkdir(exist_ok=True)
            _write_folder(folder, [rows[i] for i in idx], [crops[i] for i in idx], size=size,
                          held_out=held_out, source=_stored_source(source), frame_shape=frame_shape,
                          cv2=cv2)
        _check_out(out)  # still free?
        if out.exists():
            out.rmdir()  # an empty folder we may replace
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)  # only our own temporary folder

    counts = " + ".join(str(len(g)) for g in groups)
    held = " + ".join(str(_n_held(len(g), held_out)) for g in groups)
    ident = f", {identities} identities" if identities > 1 else ""
    return (f"{out}: {len(rows)} faces ({counts}{ident}; held out {held}) from {n_frames} "
            f"frames, {n_faceless} without a face >= {min_face} px")


def _one_per_frame(idx: np.ndarray, rows) -> np.ndarray:
    """Keep the largest face of each frame within one identity."""
    best: dict[int, int] = {}
    for i in idx:
        f, box = rows[i][0], rows[i][4]
        area = (box[2] - box[0]) * (box[3] - box[1])
        j = best.get(f)
        if j is None or area > (rows[j][4][2] - rows[j][4][0]) * (rows[j][4][3] - rows[j][4][1]):
            best[f] = i
    return np.array(sorted(best.values(), key=lambda i: rows[i][0]), dtype=int)


def _n_held(n: int, fraction: float) -> int:
    return int(round(n * fraction))


def _write_folder(folder: Path, rows, crops, *, size, held_out, source, frame_shape, cv2) -> None:
    order = np.argsort([r[0] for r in rows], kind="stable")
    rows = [rows[i] for i in order]
    crops = [crops[i] for i in order]
    n = len(rows)
    names = np.array([f"{r[0]:06d}.png" for r in rows])
    for name, crop in zip(names, crops):
        if not cv2.imwrite(str(folder / name), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR)):
            raise OSError(f"{folder / name}: could not write")
    held = np.zeros(n, bool)
    k = _n_held(n, held_out)
    if k:
        held[n - k:] = True
    np.savez(folder / "faces.npz",
             frame=np.array([r[0] for r in rows], np.int32),
             landmarks=np.stack([r[1] for r in rows]).astype(np.float32),
             matrix=np.stack([r[2] for r in rows]).astype(np.float32),
             embedding=np.stack([r[3] for r in rows]).astype(np.float32),
             box=np.array([r[4] for r in rows], np.int32),
             held_out=held, size=np.array(size), source=np.array(source),
             frame_shape=np.array(frame_shape, np.int32), names=names)
