"""Face detection, dlib's 68 landmarks and its 128-d identity embedding.

Images are RGB uint8 (H, W, 3); boxes are (x0, y0, x1, y1) pixel ints; landmarks
are float32 (68, 2) (x, y) in pixels of the image they were found in. The dlib
models come from ``face_recognition_models`` and load once per process.
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = ["DETECTORS", "Face", "FaceTools", "largest_face"]

DETECTORS = ("hog", "mtcnn", "haar")

# dlib's 68-point predictor was trained on boxes of its HOG detector; other
# detectors frame the face differently, so their (squared) boxes are mapped onto
# a HOG-like box first: centre shift (dx, dy) and side scale, in units of the
# detector box's side. Medians over the Megamind clip's faces that HOG and the
# detector both found (every 3rd frame: 87 Haar, 81 MTCNN pairs; dx ~ -0.01 set
# to 0 by symmetry). Mean landmark error against the HOG-box landmarks, over the
# inter-ocular distance: MTCNN 0.075 raw -> 0.058 mapped, Haar 0.12 -> 0.107
# (medians 0.056 -> 0.040 and 0.058 -> 0.044).
_BOX_TO_HOG = {
    "hog": (0.0, 0.0, 1.0),
    "mtcnn": (0.0, 0.074, 0.856),
    "haar": (0.0, 0.062, 0.851),
}


@dataclass(frozen=True)
class Face:
    """One detected face: ``box`` (x0, y0, x1, y1) pixel ints and its 68
    landmarks float32 (68, 2) in the same image's pixel coordinates."""

    box: tuple[int, int, int, int]
    landmarks: np.ndarray

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0]


_lock = threading.Lock()


@lru_cache(maxsize=None)
def _dlib_model(kind: str):
    import dlib
    import face_recognition_models as frm

    with _lock:
        if kind == "hog":
            return dlib.get_frontal_face_detector()
        if kind == "shape":
            return dlib.shape_predictor(frm.pose_predictor_model_location())
        if kind == "embed":
            return dlib.face_recognition_model_v1(frm.face_recognition_model_location())
    raise ValueError(kind)


@lru_cache(maxsize=None)
def _haar():
    import cv2

    path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
    cascade = cv2.CascadeClassifier(path)
    if cascade.empty():
        raise OSError(f"{path}: OpenCV could not load the Haar cascade")
    return cascade


@lru_cache(maxsize=None)
def _mtcnn():
    from core.env import quiet_tensorflow

    quiet_tensorflow()
    from mtcnn import MTCNN

    return MTCNN(stages="face_and_landmarks_detection", device="CPU:0")


def _rect(box):
    import dlib

    x0, y0, x1, y1 = (int(round(v)) for v in box)
    return dlib.rectangle(x0, y0, x1, y1)


class FaceTools:
    """Detector, landmark predictor and embedding network behind one object.

    ``detector``: "hog" (dlib's HOG + linear SVM, default: CPU-fast, frontal
    faces from about 80 px at ``upsample=0``), "mtcnn" (TensorFlow MTCNN) or
    "haar" (OpenCV's frontal Haar cascade). ``upsample``: HOG image doublings
    (each finds faces half as small, about 4x slower).
    """

    def __init__(self, detector: str = "hog", *, upsample: int = 0) -> None:
        if detector not in DETECTORS:
            raise ValueError(f"--detector: expected one of {', '.join(DETECTORS)}, got {detector!r}")
        self.detector = detector
        self.upsample = int(upsample)

    # -- detection -----------------------------------------------------------------
    def boxes(self, rgb: np.ndarray) -> list[tuple[int, int, int, int]]:
        """Face boxes (x0, y0, x1, y1), HOG-like framing, largest first."""
        rgb = _check_rgb(rgb)
        h, w = rgb.shape[:2]
        if self.detector == "hog":
            raw = [(r.left(), r.top(), r.right(), r.bottom())
                   for r in _dlib_model("hog")(rgb, self.upsample)]
        elif self.detector == "haar":
            import cv2

            grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
            found = _haar().detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5,
                                             minSize=(40, 40))
            raw = [(x, y, x + bw, y + bh) for x, y, bw, bh in np.reshape(found, (-1, 4))]
        else:
            found = _mtcnn().detect_faces(rgb, box_format="xyxy")
            raw = [tuple(d["box"]) for d in found if d.get("confidence", 1.0) >= 0.9]
        dx, dy, scale = _BOX_TO_HOG[self.detector]
        out = []
        for x0, y0, x1, y1 in raw:
            side = float(max(x1 - x0, y1 - y0))
            cx = (x0 + x1) / 2 + dx * side
            cy = (y0 + y1) / 2 + dy * side
            half = side * scale / 2
            box = (int(round(cx - half)), int(round(cy - half)),
                   int(round(cx + half)), int(round(cy + half)))
            # keep faces that touch the border, but not boxes wholly outside
            if box[2] > 0 and box[3] > 0 and box[0] < w and box[1] < h:
                out.append(box)
        out.sort(key=lambda b: -(b[2] - b[0]) * (b[3] - b[1]))
        return out

    def detect(self, rgb: np.ndarray) -> list[Face]:
        """All faces with their 68 landmarks, largest first."""
        rgb = _check_rgb(rgb)
        return [Face(box, self.landmarks(rgb, box)) for box in self.boxes(rgb)]

    # -- landmarks and embedding ---------------------------------------------------
    def landmarks(self, rgb: np.ndarray, box) -> np.ndarray:
        """dlib's 68 landmarks float32 (68, 2) for the face in ``box`` (x0, y0, x1, y1)."""
        shape = _dlib_model("shape")(_check_rgb(rgb), _rect(box))
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)

    def embed(self, rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """dlib's 128-d face descriptor float32 (128,) of the face at ``landmarks``
        (68, 2); no detection runs. Same person: distances about 0.3-0.45,
        different people about 0.55-0.9 (compare distances, not a fixed cut)."""
        import dlib

        pts = np.asarray(landmarks, dtype=np.float64).reshape(68, 2)
        x0, y0 = np.floor(pts.min(0)).astype(int)
        x1, y1 = np.ceil(pts.max(0)).astype(int)
        shape = dlib.full_object_detection(
            dlib.rectangle(int(x0), int(y0), int(x1), int(y1)),
            [dlib.point(int(round(x)), int(round(y))) for x, y in pts])
        vec = _dlib_model("embed").compute_face_descriptor(_check_rgb(rgb), shape)
        return np.asarray(vec, dtype=np.float32)


def _check_rgb(rgb: np.ndarray) -> np.ndarray:
    if not (isinstance(rgb, np.ndarray) and rgb.dtype == np.uint8 and rgb.ndim == 3
            and rgb.shape[2] == 3):
        raise ValueError("expected an RGB uint8 image (H, W, 3), got "
                         f"{getattr(rgb, 'dtype', type(rgb).__name__)} "
                         f"{getattr(rgb, 'shape', '')}")
    return np.ascontiguousarray(rgb)


_warned: set[str] = set()


def largest_face(rgb: np.ndarray, name: str, tools: FaceTools | None = None) -> Face:
    """The largest face of an image; ValueError "NAME: no face found" if there is
    none; warns once per name when there are several."""
    faces = (tools or FaceTools()).detect(rgb)
    if not faces:
        raise ValueError(f"{name}: no face found")
    if len(faces) > 1 and name not in _warned:
        _warned.add(name)
        warnings.warn(f"{name}: {len(faces)} faces, using the largest", stacklevel=2)
    return faces[0]
