"""Augmentation of aligned face crops for the swap autoencoder (NumPy +
OpenCV; TensorFlow only inside :func:`face_stream`).

One training pair per face: the *target* is the crop under a random
similarity (rotation, zoom, shift, mirror) and a Lab colour jitter; the
*input* is the target further bent by a random smooth warp (the deepfakes
trick: the network must undo the warp, so it learns faces rather than an
identity map). Both are sampled from the original crop in ONE ``cv2.remap``
each, with the input's map the target's map composed with the warp, so with
zero warp the input equals the target exactly, and with every strength zero
both equal the crop exactly (a biased warp would misalign every face).

Randomness is a function of ``(seed, shard, element)`` only, so a resumed
run sees what an uninterrupted one sees.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["Augmentation", "augment", "colour_jitter", "face_stream", "identity_maps",
           "interpolation_weights", "random_similarity", "warp_maps"]

#: control points per side of the random warp
WARP_GRID = 5


@dataclass(frozen=True)
class Augmentation:
    """Strengths (see :class:`faceswap.config.TrainConfig` for units); all
    zero: no augmentation."""

    warp: float = 0.0
    rotation: float = 0.0
    zoom: float = 0.0
    shift: float = 0.0
    flip: float = 0.0
    lightness: float = 0.0
    ab: float = 0.0

    @classmethod
    def from_config(cls, config) -> Augmentation:
        return cls(**{name: float(getattr(config, name)) for name in cls.__dataclass_fields__})


def identity_maps(size: int) -> tuple[np.ndarray, np.ndarray]:
    """``(map_x, map_y)``, float32 ``(size, size)``: each pixel's own x and y."""
    grid = np.arange(size, dtype=np.float32)
    return np.meshgrid(grid, grid)


def interpolation_weights(size: int, points: int) -> np.ndarray:
    """``(size, points)`` float64: linear interpolation from ``points``
    values at ``linspace(0, size - 1, points)`` to every pixel 0..size-1
    (rows sum to 1)."""
    t = np.arange(size) * (points - 1) / max(size - 1, 1)
    lo = np.minimum(np.floor(t).astype(int), points - 2)
    frac = t - lo
    w = np.zeros((size, points))
    w[np.arange(size), lo] = 1 - frac
    w[np.arange(size), lo + 1] = frac
    return w


def warp_maps(offsets: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The maps of a smooth warp: ``offsets`` ``(g, g, 2)`` are (dx, dy) in
    pixels at a ``g x g`` grid of control points spanning the image (rows:
    y); between them they are interpolated bilinearly. Returns ``(map_x,
    map_y)`` float32 ``(size, size)``: pixel (x, y) of the output samples
    the input at ``(x + dx, y + dy)``. Zero offsets give the identity maps."""
    g = offsets.shape[0]
    w = interpolation_weights(size, g)
    dx = w @ offsets[..., 0] @ w.T
    dy = w @ offsets[..., 1] @ w.T
    map_x, map_y = identity_maps(size)
    return (map_x + dx).astype(np.float32), (map_y + dy).astype(np.float32)


def random_similarity(rng: np.random.Generator, size: int, aug: Augmentation) -> np.ndarray:
    """A random (2, 3) affine matrix mapping OUTPUT pixels to crop pixels:
    rotation about the centre uniform in +-``aug.rotation`` degrees, scale in
    1 +- ``aug.zoom``, shift +- ``aug.shift`` x size, mirrored with
    probability ``aug.flip``. Zero strengths give exactly the identity."""
    angle = np.deg2rad(rng.uniform(-aug.rotation, aug.rotation))
    scale = 1.0 + rng.uniform(-aug.zoom, aug.zoom)
    shift = rng.uniform(-aug.shift, aug.shift, 2) * size
    flip = rng.uniform() < aug.flip
    c = (size - 1) / 2.0
    cos, sin = np.cos(angle) / scale, np.sin(angle) / scale
    m = np.array([[cos, -sin, 0.0], [sin, cos, 0.0]])
    m[:, 2] = c - m[:, :2] @ (c + shift)  # output centre + shift lands on the crop centre
    if flip:  # mirror the output: x -> size - 1 - x before the map
        m = m @ np.array([[-1.0, 0.0, size - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    return m


def colour_jitter(image: np.ndarray, rng: np.random.Generator, aug: Augmentation) -> np.ndarray:
    """A random Lab change of ``image`` (float32 RGB in [0, 1]): lightness
    moved a uniform fraction (up to ``aug.lightness``) of the way to 100 or
    0, a and b scaled by 1 + uniform +-``aug.ab``. Zero strengths return the
    image untouched."""
    if not aug.lightness and not aug.ab:
        return image
    dl, da, db = rng.uniform(-1, 1, 3) * [aug.lightness, aug.ab, aug.ab]
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2Lab)
    light = lab[..., 0]
    light *= 1.0 - abs(dl)
    if dl > 0:
        light += 100.0 * dl
    lab[..., 1] *= 1.0 + da
    lab[..., 2] *= 1.0 + db
    return np.clip(cv2.cvtColor(lab, cv2.COLOR_Lab2RGB), 0.0, 1.0)


def _remap(image: np.ndarray, maps: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    return cv2.remap(image, maps[0], maps[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def augment(crop: np.ndarray, mask: np.ndarray, rng: np.random.Generator,
            aug: Augmentation) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One training pair from a crop ``(S, S, 3)`` uint8 and its masks
    ``(S, S)`` or ``(S, S, C)`` (C <= 4) in [0, 1]: ``(input, target,
    target_mask)``, float32, images ``(S, S, 3)`` in [0, 1], masks ``(S, S,
    C)``. The masks follow the target's geometry (not the warp)."""
    size = crop.shape[0]
    # colour first: it is per pixel, so input and target share it
    image = colour_jitter(crop.astype(np.float32) / 255.0, rng, aug)
    m = random_similarity(rng, size, aug)
    map_x, map_y = identity_maps(size)
    tx = m[0, 0] * map_x + m[0, 1] * map_y + m[0, 2]
    ty = m[1, 0] * map_x + m[1, 1] * map_y + m[1, 2]
    target_maps = (tx.astype(np.float32), ty.astype(np.float32))
    offsets = rng.normal(0.0, aug.warp * size, (WARP_GRID, WARP_GRID, 2))
    wx, wy = warp_maps(offsets, size)
    # input(p) = target(w(p)) = crop(M w(p)): one interpolation of the crop
    input_maps = ((m[0, 0] * wx + m[0, 1] * wy + m[0, 2]).astype(np.float32),
                  (m[1, 0] * wx + m[1, 1] * wy + m[1, 2]).astype(np.float32))
    target, warped = _remap(image, target_maps), _remap(image, input_maps)
    target_mask = _remap(np.asarray(mask, np.float32), target_maps)
    if target_mask.ndim == 2:
        target_mask = target_mask[..., None]
    return warped, target, target_mask


def face_stream(faces: list[tuple[np.ndarray, np.ndarray]], aug: Augmentation, *,
                batch_size: int, seed: int, start_step: int = 0, shard: int = 0):
    """Infinite ``tf.data`` stream of batches, one ``(input, target, mask)``
    triple per identity in ``faces`` (a list of ``(crops (N, S, S, 3) uint8,
    masks (N, S, S[, C]) float32)``): element ``k`` of identity ``i`` is the face
    at position ``k mod N`` of a seeded permutation of epoch ``k // N``,
    augmented with randomness from ``(seed, shard, i, k)``. Batches are
    ``(B, S, S, 3)`` / ``(B, S, S, C)`` float32 in [0, 1]."""
    import tensorflow as tf

    size = faces[0][0].shape[1]

    def element(k: np.int64) -> list[np.ndarray]:
        out = []
        for i, (crops, masks) in enumerate(faces):
            n = len(crops)
            epoch, pos = divmod(int(k), n)
            index = np.random.default_rng([seed, shard, i, epoch]).permutation(n)[pos]
            rng = np.random.default_rng([seed, shard, i, int(k), 1])
            out.extend(augment(crops[index], masks[index], rng, aug))
        return out

    channels = 1 if faces[0][1].ndim == 3 else faces[0][1].shape[-1]
    shapes = [(size, size, 3), (size, size, 3), (size, size, channels)] * len(faces)

    def tf_element(k):
        parts = tf.numpy_function(element, [k], [tf.float32] * len(shapes), stateful=False)
        parts = [tf.ensure_shape(p, s) for p, s in zip(parts, shapes)]
        return tuple(tuple(parts[j:j + 3]) for j in range(0, len(parts), 3))

    ds = tf.data.Dataset.counter(start=start_step * batch_size)
    ds = ds.map(tf_element, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.batch(batch_size, drop_remainder=True).prefetch(2)
