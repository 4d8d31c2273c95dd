"""Face swap: extract (detect, 68 landmarks, Umeyama alignment), swap
(classical Delaunay warp, a shared-encoder autoencoder, or CycleGAN) and
convert (paste back into images and videos), with identity, realism and pose
metrics. Command line: ``python -m faceswap --help``.

Names load on first use, so ``python -m faceswap --help`` imports no TensorFlow.
"""

import os

from core.lazy import lazy_exports

# FFmpeg's own log lines ("moov atom not found") would precede our one-line
# errors for unreadable videos; it is read when cv2 loads, so set it first.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

_EXPORTS = {
    **dict.fromkeys(["MEAN_FACE", "align_face", "alignment", "face_mask", "umeyama"], ".align"),
    **dict.fromkeys(["Face", "FaceTools", "largest_face"], ".faces"),
    **dict.fromkeys(["extract_faces", "load_faces"], ".extract"),
    **dict.fromkeys(["colour_transfer", "paste_back"], ".blend"),
    **dict.fromkeys(["classical_swap", "delaunay_warp", "swap_files"], ".classical"),
    **dict.fromkeys(["FrameSwapper", "convert_file"], ".convert"),
    **dict.fromkeys(["box_iou", "identity_transfer", "landmark_error", "psnr_outside"],
                    ".metrics"),
    **dict.fromkeys(["evaluate_run", "evaluate_swaps"], ".evaluate"),
    "TrainConfig": ".config",
    **dict.fromkeys(["Swapper", "load_swapper", "train"], ".train"),
}
__all__ = sorted(_EXPORTS)
lazy_exports(__name__, _EXPORTS)
