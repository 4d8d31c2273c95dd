"""faceswap extract: Umeyama, detection, landmarks, embedding, alignment, the
faces-folder format and bad input. TF-free (dlib and OpenCV only), ~20 s."""

from __future__ import annotations

import subprocess
import warnings

import cv2
import numpy as np
import pytest

from data.samples import path as sample_path
from faceswap.align import MEAN_FACE, NON_JAW, alignment, face_mask, template, umeyama
from faceswap.faces import FaceTools, largest_face


def _rgb(path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def photos():
    from data.faces import face_test_images

    try:
        paths = face_test_images()
    except OSError as exc:  # offline with an empty cache
        pytest.skip(str(exc))
    out = {}
    for name, p in paths.items():  # 1-3 Mpx photos: at most 800 px keeps the test quick
        rgb = _rgb(p)
        scale = 800 / max(rgb.shape[:2])
        out[name] = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return out


@pytest.fixture(scope="module")
def clip_frames():
    """Frames 82..112 (every 2nd) of the Megamind clip: the woman up to frame
    97, the man from frame 98 (the shot cut)."""
    from data.faces import megamind_path

    try:
        path = megamind_path()
    except OSError as exc:
        pytest.skip(str(exc))
    cap = cv2.VideoCapture(str(path))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 82)
    frames = {}
    for i in range(82, 114):
        ok, bgr = cap.read()
        assert ok
        if i % 2 == 0:
            frames[i] = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    cap.release()
    return frames


@pytest.fixture(scope="module")
def tools():
    return FaceTools("hog")


def _similarity(rng):
    angle, scale = rng.uniform(-np.pi, np.pi), rng.uniform(0.2, 5.0)
    t = rng.normal(0, 50, 2)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    m = np.eye(3)
    m[:2, :2], m[:2, 2] = scale * rot, t
    return m


def test_umeyama_recovers_a_random_similarity(rng):
    for _ in range(5):
        m = _similarity(rng)
        src = rng.normal(0, 30, (20, 2))
        dst = src @ m[:2, :2].T + m[:2, 2]
        np.testing.assert_allclose(umeyama(src, dst), m, atol=1e-6)
    # a rigid transform without scale estimation; a mirror image is never returned
    m = _similarity(rng)
    m[:2, :2] /= np.sqrt(abs(np.linalg.det(m[:2, :2])))
    src = rng.normal(0, 30, (20, 2))
    np.testing.assert_allclose(umeyama(src, src @ m[:2, :2].T + m[:2, 2], False), m, atol=1e-6)
    mirrored = src * [-1, 1]
    assert np.linalg.det(umeyama(src, mirrored)[:2, :2]) > 0


def test_alignment_maps_non_jaw_landmarks_onto_the_mean_face(rng):
    size = 128
    target = template(size)
    np.testing.assert_allclose(target, MEAN_FACE * size - 0.5, atol=1e-4)
    # a face that is an exact similarity image of the template (plus a moved jaw)
    m = _similarity(rng)
    inv = np.linalg.inv(m)
    lm = (target @ inv[:2, :2].T + inv[:2, 2]).astype(np.float32)
    lm[:17] += rng.normal(0, 5, (17, 2)).astype(np.float32)  # the jaw must not matter
    got = cv2.transform(lm[None], alignment(lm, size))[0]
    np.testing.assert_allclose(got[NON_JAW], target[NON_JAW], atol=1e-3)


def test_face_mask_is_the_landmark_hull_plus_forehead(photos, tools):
    from scipy.spatial import Delaunay

    rgb = photos["obama"]
    lm = tools.detect(rgb)[0].landmarks
    mask = face_mask(lm, rgb.shape)
    assert mask.shape == rgb.shape[:2] and mask.dtype == np.float32
    assert set(np.unique(mask)) == {0.0, 1.0}
    x0, y0 = np.maximum(lm.min(0).astype(int) - 20, 0)
    x1, y1 = lm.max(0).astype(int) + 20
    yy, xx = np.mgrid[y0:y1, x0:x1]
    pix = np.stack([xx.ravel(), yy.ravel()], 1)
    in_hull = (Delaunay(lm).find_simplex(pix) >= 0).reshape(yy.shape)
    assert mask[y0:y1, x0:x1][in_hull].mean() > 0.995  # the landmark hull (edges aside)
    assert mask.sum() == mask[y0:y1, x0:x1].sum() + mask[:y0].sum()  # nothing else but forehead
    brow_top = lm[17:27, 1].min()
    assert mask[: int(brow_top) - 10].sum() > 0  # the forehead above the brows
    iod = np.linalg.norm(lm[36:42].mean(0) - lm[42:48].mean(0))
    grown = face_mask(lm, rgb.shape, grow=0.25)
    assert np.all(grown >= mask)
    # dilation by r = 0.25 iod: a pixel r/2 left of the leftmost jaw point is in
    x, y = lm[0] - [0.125 * iod, 0]
    assert grown[int(round(y)), int(round(x))] == 1 and mask[int(round(y)), int(round(x))] == 0


def test_detection_finds_one_face_per_photo_and_none_without(photos, tools):
    for name, rgb in photos.items():
        faces = tools.detect(rgb)
        assert len(faces) == 1, name
        x0, y0, x1, y1 = faces[0].box
        lm = faces[0].landmarks
        assert lm.shape == (68, 2) and lm.dtype == np.float32
        # landmarks lie around the box, eyes above the mouth
        assert x0 - 0.2 * (x1 - x0) < lm[:, 0].mean() < x1 + 0.2 * (x1 - x0)
        assert lm[36:48, 1].mean() < lm[48:68, 1].mean()
    for name in ("chelsea", "coffee", "starry_night"):
        assert tools.detect(_rgb(sample_path(name))) == [], name
    with pytest.raises(ValueError, match="coffee: no face found"):
        largest_face(_rgb(sample_path("coffee")), "coffee", tools)


def test_haar_boxes_give_the_same_landmarks_as_hog(photos, tools):
    haar = FaceTools("haar")
    for name in ("obama", "biden"):
        a, b = tools.detect(photos[name])[0], haar.detect(photos[name])[0]
        iod = np.linalg.norm(a.landmarks[36:42].mean(0) - a.landmarks[42:48].mean(0))
        assert np.linalg.norm(a.landmarks - b.landmarks, axis=1).mean() < 0.05 * iod, name


def test_several_faces_warn_and_the_largest_is_used(photos, tools):
    big = photos["obama2"]  # both 800 px tall; Obama's face about 200 px, Biden's 110
    canvas = np.concatenate([big, photos["biden"]], axis=1)
    with pytest.warns(UserWarning, match="pair.png: 2 faces, using the largest"):
        face = largest_face(canvas, "pair.png", tools)
    assert face.box[2] <= big.shape[1]  # the larger (Obama) face, left part


def test_embedding_puts_obama_nearer_obama_than_biden(photos, tools):
    emb = {}
    for name, rgb in photos.items():
        e = tools.embed(rgb, tools.detect(rgb)[0].landmarks)
        assert e.shape == (128,) and e.dtype == np.float32
        emb[name] = e
    obamas = ["obama", "obama2", "obama3"]
    same = max(np.linalg.norm(emb[a] - emb[b]) for a in obamas for b in obamas if a < b)
    other = min(np.linalg.norm(emb[a] - emb["biden"]) for a in obamas)
    assert same < other, (same, other)


def _write_frames(folder, frames):
    folder.mkdir()
    for k, (i, rgb) in enumerate(sorted(frames.items())):
        cv2.imwrite(str(folder / f"f{i:04d}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def test_extract_writes_two_identity_folders(clip_frames, tmp_path):
    from faceswap.extract import extract_faces, load_faces

    src = tmp_path / "frames"
    _write_frames(src, clip_frames)
    out = tmp_path / "faces"
    summary = extract_faces(src, out, size=64, identities=2, held_out=0.2, progress=False)
    assert summary.startswith(f"{out}: 16 faces (8 + 8, 2 identities; held out 2 + 2)")
    assert sorted(p.name for p in out.iterdir()) == ["identity_0", "identity_1"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp left
    index = sorted(clip_frames)
    firsts = []
    for j in range(2):
        f = load_faces(out / f"identity_{j}")
        n = len(f)
        assert n == 8 and f.size == 64 and f.source == str(src)
        assert f.frame.dtype == np.int32 and f.landmarks.shape == (n, 68, 2)
        assert f.matrix.shape == (n, 2, 3) and f.embedding.shape == (n, 128)
        assert f.box.shape == (n, 4) and f.box.dtype == np.int32
        assert f.frame_shape == (528, 720, 3)
        assert list(f.held_out) == [False] * 6 + [True] * 2  # the last contiguous 20 %
        assert list(f.names) == [f"{k:06d}.png" for k in f.frame]
        assert np.all(np.diff(f.frame) > 0)
        crops = f.crops
        assert crops.shape == (n, 64, 64, 3) and crops.dtype == np.uint8
        for k in (0, n - 1):  # the crop is the frame warped by the stored matrix
            frame = clip_frames[index[f.frame[k]]]
            ref = cv2.warpAffine(frame, f.matrix[k], (64, 64), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_REPLICATE)
            np.testing.assert_array_equal(crops[k], ref)
            moved = cv2.transform(f.landmarks[k][None], f.matrix[k])[0]
            assert np.abs(moved[NON_JAW] - template(64)[NON_JAW]).mean() < 0.05 * 64
        firsts.append(index[f.frame[0]])
    # the clusters follow the shot cut between frames 97 and 98
    assert sorted(firsts) == [82, 98]


def test_extract_video_one_identity_and_atomic_failure(clip_frames, tmp_path, monkeypatch):
    import faceswap.extract as ex

    monkeypatch.setattr(ex, "MIN_FACES_PER_IDENTITY", 2)  # a 3-face video keeps it quick
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 12, (720, 528))
    for i in sorted(clip_frames)[:6]:
        writer.write(cv2.cvtColor(clip_frames[i], cv2.COLOR_RGB2BGR))
    writer.release()
    out = tmp_path / "faces"
    summary = ex.extract_faces(video, out, size=32, every=2, progress=False)
    assert summary.startswith(f"{out}: 3 faces (3; held out 0) from 3 frames")
    f = ex.load_faces(out)
    assert list(f.frame) == [0, 2, 4] and f.crops.shape == (3, 32, 32, 3)
    # a failure while writing leaves neither --out nor a temporary folder
    monkeypatch.setattr(ex.np, "savez", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        ex.extract_faces(video, tmp_path / "new", size=32, every=2, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.avi", "faces"]


def _cli(args, capsys):
    from faceswap.__main__ import main

    with warnings.catch_warnings():
        code = main(["extract", *map(str, args), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    return code, err


def test_extract_bad_input_is_one_line(tmp_path, capsys):
    out = tmp_path / "out"
    code, err = _cli([tmp_path / "missing.avi", "--out", out], capsys)
    assert code == 1 and len(err) == 1 and "missing.avi" in err[0], err
    junk = tmp_path / "junk.avi"
    junk.write_bytes(b"not a video" * 100)
    code, err = _cli([junk, "--out", out], capsys)
    assert (code, err) == (2, [f"error: {junk}: not a readable video (OpenCV could not open it)"])
    empty = tmp_path / "empty"
    empty.mkdir()
    code, err = _cli([empty, "--out", out], capsys)
    assert code == 2 and len(err) == 1 and err[0].startswith(f"error: {empty}: no images"), err
    no_faces = tmp_path / "no_faces"
    no_faces.mkdir()
    for name in ("coffee", "starry_night", "chelsea"):
        (no_faces / f"{name}.jpg").write_bytes(sample_path(name).read_bytes())
    code, err = _cli([no_faces, "--out", out, "--identities", "2"], capsys)
    assert (code, err) == (2, [f"error: {no_faces}: found 0 faces >= 80 px in 3 frames, need at "
                               "least 16 (8 per identity for --identities 2)"])
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    out.mkdir()
    (out / "faces.npz").write_bytes(b"precious")
    code, err = _cli([no_faces, "--out", out], capsys)
    assert (code, err) == (2, [f"error: --out {out}: holds faces already; choose a new folder "
                               "(nothing was written)"])
    assert (out / "faces.npz").read_bytes() == b"precious"


def test_deb_member_reads_one_file_of_a_debian_package(tmp_path):
    """data.faces extracts Megamind.avi from opencv-doc's .deb in Python; here
    from a tiny package built by dpkg-deb (the reference implementation)."""
    from data.faces import _deb_member

    if subprocess.run(["which", "dpkg-deb"], capture_output=True).returncode:
        pytest.skip("dpkg-deb not available")
    root = tmp_path / "pkg"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        "Package: tiny\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@t>\nDescription: t\n")
    member = root / "usr/share/doc/tiny/data/clip.bin"
    member.parent.mkdir(parents=True)
    payload = np.random.default_rng(0).bytes(300_001)
    member.write_bytes(payload)
    (member.parent / "other.txt").write_text("x")
    deb = tmp_path / "tiny.deb"
    subprocess.run(["dpkg-deb", "-Zxz", "--build", "--root-owner-group", str(root), str(deb)],
                   check=True, capture_output=True)
    got = tmp_path / "clip.bin"
    _deb_member(deb, "usr/share/doc/tiny/data/clip.bin", got)
    assert got.read_bytes() == payload
    with pytest.raises(ValueError, match="has no member"):
        _deb_member(deb, "usr/share/doc/tiny/data/nothing", tmp_path / "n")
    bad = tmp_path / "bad.deb"
    bad.write_bytes(b"PK\x03\x04")
    with pytest.raises(ValueError, match="not a Debian package"):
        _deb_member(bad, "x", tmp_path / "x")
