"""faceswap.metrics against hand-computed values and the definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from faceswap.metrics import (PSNR_CAP_DB, box_iou, identity_transfer, landmark_error,
                              psnr_outside)


def _face(rng: np.random.Generator, eye_distance: float) -> np.ndarray:
    lm = rng.uniform(0, 100, (68, 2))
    lm[36:42] = [10.0, 50.0]  # right-eye centre (10, 50)
    lm[42:48] = [10.0 + eye_distance, 50.0]
    return lm


def test_landmark_error_is_mean_distance_over_eye_distance(rng):
    ref = _face(rng, 40.0)
    shift = np.zeros_like(ref)
    shift[:, 0] = 3.0  # every point 3 px to the right, eyes included
    shift[:, 1] = 4.0
    assert landmark_error(ref + shift, ref) == pytest.approx(5.0 / 40.0)
    moved = ref.copy()
    moved[0] += [0.0, 68.0]  # one point 68 px away: mean distance 1 px
    assert landmark_error(moved, ref) == pytest.approx(1.0 / 40.0)


def test_identity_transfer_counts_faces_nearer_the_donor():
    donor, target = np.zeros(128), np.zeros(128)
    target[0] = 1.0
    emb = np.zeros((4, 128))
    emb[:, 0] = [0.1, 0.2, 0.8, 0.45]  # distances to donor 0.1 0.2 0.8 0.45, target 0.9 ...
    out = identity_transfer(emb, donor, target)
    assert out["fraction"] == 0.75 and out["n"] == 4
    assert out["donor_distance"] == pytest.approx(np.mean([0.1, 0.2, 0.8, 0.45]))
    assert out["target_distance"] == pytest.approx(np.mean([0.9, 0.8, 0.2, 0.55]))


def test_psnr_outside_ignores_the_face_and_follows_the_definition(rng):
    original = rng.integers(0, 256, (20, 30, 3)).astype(np.uint8)
    mask = np.zeros((20, 30))
    mask[5:15, 10:20] = 1.0
    swapped = original.copy()
    swapped[mask > 0] = 255 - swapped[mask > 0]  # the face may change freely
    assert psnr_outside(original, swapped, mask) == PSNR_CAP_DB
    off = swapped.astype(np.int32)
    outside = mask == 0
    off[outside] = np.clip(off[outside] + np.where(off[outside] < 128, 5, -5), 0, 255)
    # every outside value moved by exactly 5: MSE 25
    assert psnr_outside(original, off.astype(np.uint8), mask) == pytest.approx(
        10 * math.log10(255 ** 2 / 25.0))


def test_box_iou_by_hand():
    assert box_iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert box_iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert box_iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0
