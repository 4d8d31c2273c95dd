"""Classical swap, blending, video I/O and convert (TensorFlow-free: convert
runs with a stand-in swapper, so its geometry, frames, labels and provenance
are tested apart from training).

References are independent of the code under test: Lab statistics from
cv2.cvtColor + NumPy, geometry from exact integer warps (np.rot90, shifts),
a global similarity sampled with scipy.ndimage, landmark hulls from
point-in-triangulation tests (scipy.spatial.Delaunay.find_simplex).
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from PIL import Image
from scipy import ndimage
from scipy.spatial import Delaunay

from data.images import IPTC_COMPOSITE, IPTC_SYNTHETIC, read_provenance, save_image
from faceswap.align import MEAN_FACE
from faceswap.blend import colour_transfer, paste_back
from faceswap.classical import classical_swap, delaunay_warp

COMPOSITE = "compositeWithTrainedAlgorithmicMedia"


def smooth_image(rng, h, w, lo=40, hi=215, blur=6.0) -> np.ndarray:
    """Smooth random RGB uint8 (no hard gamut edges, so Lab round trips are clean)."""
    noise = rng.uniform(0, 1, (h, w, 3)).astype(np.float32)
    img = cv2.GaussianBlur(noise, (0, 0), blur)
    img = (img - img.min()) / (img.max() - img.min())
    return np.round(lo + (hi - lo) * img).astype(np.uint8)


def disk(shape, centre, radius) -> np.ndarray:
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    return (((yy - centre[1]) ** 2 + (xx - centre[0]) ** 2) <= radius**2).astype(np.float32)


def lab_stats(rgb: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)[mask > 0.5]
    return lab.mean(0), lab.std(0)


# -- blend ---------------------------------------------------------------------------

def test_colour_transfer_matches_reference_lab_mean_and_std_over_the_mask(rng):
    src = smooth_image(rng, 96, 128, 60, 200)
    src[..., 2] = (src[..., 2] * 0.5).astype(np.uint8)  # yellowish
    ref = smooth_image(rng, 96, 128, 70, 190)
    ref[..., 0] = (ref[..., 0] * 0.6 + 40).astype(np.uint8)  # a different cast
    mask = disk((96, 128), (64, 48), 40)
    ref_outside = ref.copy()
    ref_outside[mask == 0] = (255, 0, 255)  # statistics must ignore everything outside
    out = colour_transfer(src, ref_outside, mask)
    assert out.shape == src.shape and out.dtype == np.uint8
    want_mean, want_std = lab_stats(ref, mask)
    got_mean, got_std = lab_stats(out, mask)
    before_mean, _ = lab_stats(src, mask)
    assert np.abs(before_mean - want_mean).max() > 10  # the test can fail
    # uint8 rounding moves Lab values by < 0.5 units
    np.testing.assert_allclose(got_mean, want_mean, atol=0.3)
    np.testing.assert_allclose(got_std, want_std, atol=0.3, rtol=0.02)


@pytest.mark.parametrize("turn", [0, 1])
@pytest.mark.parametrize("seamless", [False, True])
def test_paste_back_exact_warp_reproduces_the_crop_inside_and_the_frame_outside(
        rng, turn, seamless):
    """frame -> crop matrix: a shift (turn 0) or a shift and a quarter turn
    (turn 1), both exact on the pixel grid: inside the fully opaque part of
    the mask the result is the crop placed by NumPy; outside, the frame."""
    frame = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    crop = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)  # sharp: a 1 px offset shows
    ty, tx = 30, 50
    if turn == 0:
        matrix = np.array([[1, 0, -tx], [0, 1, -ty]], np.float32)
        placed_crop = crop
    else:  # crop(u, v) = frame(x = tx + v, y = ty + 63 - u) -> crop pixel (row v, col u)
        matrix = np.array([[0, -1, ty + 63], [1, 0, -tx]], np.float32)
        placed_crop = np.rot90(crop, 1)
    expected = frame.copy()
    expected[ty:ty + 64, tx:tx + 64] = placed_crop
    mask_crop = disk((64, 64), (31.5, 31.5), 28)
    out = paste_back(frame, crop, matrix, mask_crop, colour=False, seamless=seamless)
    assert out.shape == frame.shape and out.dtype == np.uint8
    region = np.zeros(frame.shape[:2], bool)
    region[ty:ty + 64, tx:tx + 64] = np.rot90(mask_crop, turn) > 0.5
    np.testing.assert_array_equal(out[~region], frame[~region])
    core = np.zeros_like(region)
    core[ty:ty + 64, tx:tx + 64] = np.rot90(disk((64, 64), (31.5, 31.5), 18), turn) > 0
    if seamless:  # Poisson clone: the crop's gradients, the frame's boundary
        diff = out[core].astype(float) - expected[core]
        assert np.abs(diff - diff.mean(0)).mean() < 12
    else:
        np.testing.assert_array_equal(out[core], expected[core])
    changed = np.any(out != frame, axis=-1)
    assert changed[core].mean() > 0.9


def test_paste_back_colour_and_seamless_stay_inside_the_mask(rng):
    frame = smooth_image(rng, 100, 100, 0, 255, blur=2)
    crop = smooth_image(rng, 50, 50, 0, 255, blur=2)
    matrix = np.array([[0.8, 0.1, -20], [-0.1, 0.8, -15]], np.float32)  # a rotation + scale
    mask = disk((50, 50), (25, 25), 22)
    out = paste_back(frame, crop, matrix, mask, colour=True, seamless=True)
    yy, xx = np.mgrid[:100, :100]
    u = matrix[0, 0] * xx + matrix[0, 1] * yy + matrix[0, 2]  # crop coords of each frame pixel
    v = matrix[1, 0] * xx + matrix[1, 1] * yy + matrix[1, 2]
    outside = (u - 25) ** 2 + (v - 25) ** 2 > 23.5**2  # beyond the disk and bilinear's reach
    np.testing.assert_array_equal(out[outside], frame[outside])
    assert (out != frame).any()


# -- classical swap --------------------------------------------------------------------

def _face_points(scale, centre, angle=0.0):
    c, s = np.cos(angle), np.sin(angle)
    pts = (MEAN_FACE - 0.5) * scale
    return (pts @ np.array([[c, s], [-s, c]]) + centre).astype(np.float32)


def test_delaunay_warp_of_a_global_similarity_equals_the_similarity_warp(rng):
    """When the donor's landmarks are a similarity of the target's, every
    triangle's affine is that similarity: the piecewise warp must equal a
    global warp sampled independently (scipy.ndimage, bilinear)."""
    src = smooth_image(rng, 200, 220, blur=4)
    dst_pts = _face_points(110, (130, 100), 0.2)
    a = 1.3 * np.array([[np.cos(0.5), -np.sin(0.5)], [np.sin(0.5), np.cos(0.5)]])
    t = np.array([110.0, 100.0]) - dst_pts.mean(0) @ a.T
    src_pts = dst_pts @ a.T + t  # dst -> src similarity, centred in the source
    warped, covered = delaunay_warp(src, src_pts, dst_pts, (190, 260, 3))
    assert warped.shape == (190, 260, 3) and covered.shape == (190, 260)
    yy, xx = np.mgrid[:190, :260].astype(np.float64)
    sx = a[0, 0] * xx + a[0, 1] * yy + t[0]
    sy = a[1, 0] * xx + a[1, 1] * yy + t[1]
    ref = np.stack([ndimage.map_coordinates(src[..., c].astype(float), [sy, sx], order=1)
                    for c in range(3)], -1)
    hull = Delaunay(dst_pts).find_simplex(np.stack([xx, yy], -1).reshape(-1, 2)) >= 0
    hull = hull.reshape(190, 260)
    inner = cv2.erode(hull.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    outer = cv2.dilate(hull.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    assert covered[inner].min() == 1.0 and covered[~outer].max() == 0.0
    assert np.abs(warped[inner].astype(float) - ref[inner]).max() <= 1.01
    assert (warped[covered == 0] == 0).all()


@pytest.mark.parametrize("seamless", [False, True])
def test_classical_swap_keeps_size_and_every_pixel_outside_the_mask(rng, seamless):
    source = smooth_image(rng, 180, 150, 30, 220, blur=3)
    target = smooth_image(rng, 210, 260, 30, 220, blur=3)
    src_lm = _face_points(100, (75, 95)) + rng.normal(0, 1.0, (68, 2)).astype(np.float32)
    dst_lm = _face_points(120, (140, 110), -0.15) + rng.normal(0, 1.0, (68, 2)).astype(np.float32)
    out, mask = classical_swap(source, src_lm, target, dst_lm, colour=True, seamless=seamless)
    assert out.shape == target.shape and out.dtype == np.uint8
    assert mask.shape == target.shape[:2] and 0.0 <= mask.min() and mask.max() <= 1.0
    np.testing.assert_array_equal(out[mask == 0], target[mask == 0])
    yy, xx = np.mgrid[:210, :260]
    hull = (Delaunay(dst_lm).find_simplex(np.stack([xx, yy], -1).reshape(-1, 2)) >= 0)
    hull = hull.reshape(210, 260)
    assert not (mask > 0)[~cv2.dilate(hull.astype(np.uint8), np.ones((3, 3)))
                          .astype(bool)].any()  # the mask stays in the landmarks' hull
    changed = np.any(out != target, axis=-1)
    assert changed[mask > 0.99].mean() > 0.8


# -- provenance --------------------------------------------------------------------------

def test_save_image_composite_source_type_reads_back(tmp_path):
    image = np.full((8, 8, 3), 0.5, np.float32)
    path = save_image(tmp_path / "swap.png", image, generator="faceswap classical",
                      params={"a": 1}, source_type=COMPOSITE)
    meta = read_provenance(path)
    assert meta["DigitalSourceType"] == IPTC_COMPOSITE
    assert IPTC_COMPOSITE == "http://cv.iptc.org/newscodes/digitalsourcetype/" + COMPOSITE
    assert meta["AI-Generated"] == "true" and meta["Parameters"] == {"a": 1}
    default = read_provenance(save_image(tmp_path / "gen.png", image, generator="g"))
    assert default["DigitalSourceType"] == IPTC_SYNTHETIC  # existing callers unchanged
    with pytest.raises(ValueError, match="source_type"):
        save_image(tmp_path / "bad.png", image, generator="g", source_type="photo")
    assert not (tmp_path / "bad.png").exists()


# -- real faces: CLI swap and convert ----------------------------------------------------

@pytest.fixture(scope="module")
def photos():
    from data.faces import face_test_images

    try:
        return face_test_images()
    except (ValueError, OSError) as exc:  # offline without pip's cache
        pytest.skip(f"face_recognition test photos unavailable: {exc}")


def _rgb(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def test_swap_cli_real_photos_writes_a_marked_png_changed_only_inside_the_face(
        photos, tmp_path, capsys):
    from faceswap.__main__ import main
    from faceswap.faces import FaceTools

    out = tmp_path / "swap.png"
    assert main(["swap", str(photos["obama2"]), str(photos["biden"]), "-o", str(out)]) == 0
    summary = capsys.readouterr().out
    assert str(out) in summary and summary.count("\n") == 1
    target = _rgb(photos["biden"])
    result = _rgb(out)
    assert result.shape == target.shape
    lm = FaceTools().detect(target)[0].landmarks
    changed = np.any(result != target, axis=-1)
    ys, xs = np.nonzero(changed)
    inside = Delaunay(lm).find_simplex(np.stack([xs, ys], -1)) >= 0
    assert changed.sum() > 10_000 and inside.all()
    meta = read_provenance(out)
    assert meta["DigitalSourceType"] == IPTC_COMPOSITE and meta["AI-Generated"] == "true"
    # output exists -> one line, exit 2, file untouched
    before = out.read_bytes()
    assert main(["swap", str(photos["obama2"]), str(photos["biden"]), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "exists" in err[0] and "--force" in err[0]
    assert out.read_bytes() == before


def test_swap_cli_face_free_image_and_missing_file(photos, tmp_path, capsys, rng):
    from faceswap.__main__ import main

    blank = tmp_path / "wall.png"
    Image.fromarray(smooth_image(rng, 240, 320)).save(blank)
    out = tmp_path / "out.png"
    assert main(["swap", str(photos["obama2"]), str(blank), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {blank}: no face found"]
    assert main(["swap", str(tmp_path / "nope.jpg"), str(blank), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope.jpg" in err[0] and "not found" in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wall.png"]


# hand-measured HOG boxes of the sdist's photos (x0, y0, x1, y1): frames are cut around them
_BOXES = {"obama": (366, 136, 624, 394), "obama2": (164, 302, 474, 612),
          "biden": (439, 232, 749, 542)}
W, H = 720, 528


def _frame(path, name, dx=0) -> np.ndarray:
    """720x528 frame: the photo's face scaled to 170 px, on grey."""
    x0, y0, x1, y1 = _BOXES[name]
    s = 170 / (x1 - x0)
    img = cv2.resize(_rgb(path), None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    cx, cy = int((x0 + x1) / 2 * s), int((y0 + y1) / 2 * s)
    frame = np.full((H, W, 3), 90, np.uint8)
    left, top = cx - (W // 2 + dx), cy - H // 2
    src = img[max(top, 0):top + H, max(left, 0):left + W]
    oy, ox = max(-top, 0), max(-left, 0)
    frame[oy:oy + src.shape[0], ox:ox + src.shape[1]] = src
    return frame


class StandIn:
    """Swapper stand-in: the crop colour-inverted, no mask (convert uses face_mask)."""

    size = 96

    def __init__(self, centroids, fail_at=None):
        self.centroids, self.calls, self.fail_at = centroids, 0, fail_at

    def swap(self, crops, direction):
        assert crops.dtype == np.uint8 and crops.shape[1:] == (96, 96, 3)
        self.calls += 1
        if self.calls == self.fail_at:
            raise KeyboardInterrupt
        return 255 - crops, None


@pytest.fixture(scope="module")
def clip(photos, tmp_path_factory):
    """6 frames (MJPG .avi written with OpenCV): Obama, Obama, Biden, no face,
    Obama shifted, Biden; and the stand-in's centroids."""
    from faceswap.faces import FaceTools

    frames = [_frame(photos["obama2"], "obama2"), _frame(photos["obama"], "obama"),
              _frame(photos["biden"], "biden"), np.full((H, W, 3), 90, np.uint8),
              _frame(photos["obama2"], "obama2", dx=40), _frame(photos["biden"], "biden", 30)]
    path = tmp_path_factory.mktemp("clip") / "in.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 12.0, (W, H))
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()
    cap = cv2.VideoCapture(str(path))
    decoded = []
    while (got := cap.read())[0]:
        decoded.append(cv2.cvtColor(got[1], cv2.COLOR_BGR2RGB))
    tools = FaceTools()
    embed = {k: tools.embed(decoded[k], tools.detect(decoded[k])[0].landmarks) for k in (0, 2)}
    return path, np.array(decoded), {"A": embed[0], "B": embed[2]}


def _read(path) -> np.ndarray:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while (got := cap.read())[0]:
        frames.append(cv2.cvtColor(got[1], cv2.COLOR_BGR2RGB))
    return np.array(frames)


def test_convert_video_keeps_frames_size_swaps_one_identity_labels_and_writes_sidecar(
        clip, tmp_path):
    from faceswap.convert import convert_file
    from faceswap.video import LABEL, label_box

    path, frames, centroids = clip
    x0, y0, x1, y1 = label_box(frames[0].shape)[:4]
    corner = (slice(y0, y1), slice(x0, x1))
    for name, label in (("out.mp4", True), ("plain.avi", False)):
        out = tmp_path / name
        summary = convert_file("runs/stand-in", path, out, direction="AtoB", label=label,
                               swapper=StandIn(centroids), progress=False)
        assert "\n" not in summary
        assert "6 frames 720x528" in summary and "3 faces swapped AtoB" in summary
        assert "1 frames without a face" in summary and "2 faces of the other" in summary
        assert ("--no-label" in summary) == (not label)
        got = _read(out)
        assert got.shape == frames.shape  # frame count and size kept
        side = json.loads((tmp_path / (name + ".json")).read_text())
        assert side["DigitalSourceType"] == IPTC_COMPOSITE and side["AI-Generated"] == "true"
        assert side["Parameters"]["direction"] == "AtoB"
        assert side["Parameters"]["run"] == "runs/stand-in"
        assert side["Label"] == (LABEL if label else None) and side["Frames"] == 6
        assert side["Date"][:2] == "20"
        gap = np.abs(got[(slice(None),) + corner].astype(float)
                     - frames[(slice(None),) + corner]).mean()
        assert gap > 30 if label else gap < 4  # codec noise only without the label
        # Obama's faces (0, 1, 4) inverted around the nose; Biden's (2, 5) and the empty frame kept
        for k, dx in enumerate((0, 0, 0, 0, 40, 30)):
            face = (slice(230, 300), slice(330 + dx, 390 + dx))
            a = got[k][face].astype(float).mean(-1).ravel()
            b = frames[k][face].astype(float).mean(-1).ravel()
            if k in (0, 1, 4):
                assert np.corrcoef(a, b)[0, 1] < 0, k
            else:
                assert np.abs(a - b).mean() < 4, k
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4", "out.mp4.json",
                                                           "plain.avi", "plain.avi.json"]


def test_convert_image_writes_marked_png_and_refuses_face_free_images(clip, tmp_path):
    from faceswap.convert import convert_file

    _, frames, centroids = clip
    image = tmp_path / "obama.png"
    Image.fromarray(frames[0]).save(image)
    out = tmp_path / "swapped.png"
    summary = convert_file("r", image, out, swapper=StandIn(centroids), progress=False)
    assert "1 face(s) swapped AtoB" in summary
    assert _rgb(out).shape == frames[0].shape
    assert read_provenance(out)["DigitalSourceType"] == IPTC_COMPOSITE
    blank = tmp_path / "blank.png"
    Image.fromarray(frames[3]).save(blank)
    with pytest.raises(ValueError, match=r"blank.png: no face found"):
        convert_file("r", blank, tmp_path / "x.png", swapper=StandIn(centroids))
    with pytest.raises(ValueError, match="no face of identity B"):  # only A's face in it
        convert_file("r", image, tmp_path / "y.png", direction="BtoA",
                     swapper=StandIn(centroids))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blank.png", "obama.png",
                                                           "swapped.png"]


def test_convert_bad_inputs_one_line_and_nothing_written(clip, tmp_path, capsys):
    from core.cli import run_main
    from faceswap.convert import convert_file

    path, _, centroids = clip
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    existing = tmp_path / "exists.mp4"
    existing.write_bytes(b"keep me")

    def run(input, output, **kw):
        code = run_main(lambda: convert_file("r", input, output, progress=False,
                                             swapper=StandIn(centroids, **kw)))
        return code, capsys.readouterr().err.strip().splitlines()

    code, err = run(junk, tmp_path / "o.mp4")
    assert code == 2 and err == [f"error: {junk}: not a video OpenCV can read"]
    code, err = run(tmp_path / "missing.avi", tmp_path / "o.mp4")
    assert code == 2 and len(err) == 1 and "missing.avi: file not found" in err[0]
    code, err = run(path, existing)
    assert code == 2 and err == [f"error: {existing}: exists; pass --force to replace it"]
    code, err = run(path, tmp_path / "o.gif")
    assert code == 2 and len(err) == 1 and "--output" in err[0] and ".mp4" in err[0]
    code, err = run(path, tmp_path / "cut.mp4", fail_at=2)  # Ctrl-C on the second face
    assert code == 130 and len(err) == 1 and err[0].startswith("interrupted (SIGINT)")
    assert existing.read_bytes() == b"keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exists.mp4", "junk.mp4"]


def test_video_reader_rejects_a_video_without_frames(tmp_path):
    from faceswap.video import VideoReader

    empty = tmp_path / "empty.avi"
    writer = cv2.VideoWriter(str(empty), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    writer.release()
    with pytest.raises(ValueError, match=r"empty.avi: (video has no frames|not a video)"):
        VideoReader(empty)
