"""The patch MRF (Rosales et al. 2003): belief propagation against exact
dynamic programming (Viterbi) on chains, the energy against its definition
summed in loops, patch assembly against a loop of sums and counts, exact
copies of style patches found, EM recovering a known rendering from unpaired
images, Image Analogies reproducing a known pair, and the command line's
errors and outputs. NumPy only (float64 throughout; no TensorFlow precision
is involved)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from PIL import Image

from data import read_provenance
from patch_mrf import (
    PatchMRF,
    assemble_patches,
    dense_patches,
    extract_patches,
    fit_rendering,
    image_analogy,
    independent_labels,
    min_sum_bp,
    mrf_energy,
    overlap_costs,
    pad_to_grid,
    translate,
)
from patch_mrf.__main__ import main as cli


def _viterbi(unary: np.ndarray, pair: np.ndarray) -> tuple[np.ndarray, float]:
    """Exact MAP of a chain: ``unary`` (n, K), ``pair`` (n - 1, K, K)."""
    cost, back = unary[0].copy(), []
    for i in range(1, len(unary)):
        total = cost[:, None] + pair[i - 1]
        back.append(total.argmin(axis=0))
        cost = total.min(axis=0) + unary[i]
    path = [int(cost.argmin())]
    for b in reversed(back):
        path.append(int(b[path[-1]]))
    return np.array(path[::-1]), float(cost.min())


def _energy_by_loops(labels, unary, pair_h, pair_v) -> float:
    rows, cols = labels.shape
    total = sum(unary[r, c, labels[r, c]] for r in range(rows) for c in range(cols))
    total += sum(pair_h[r, c, labels[r, c], labels[r, c + 1]]
                 for r in range(rows) for c in range(cols - 1))
    total += sum(pair_v[r, c, labels[r, c], labels[r + 1, c]]
                 for r in range(rows - 1) for c in range(cols))
    return float(total)


def _random_mrf(rng, rows, cols, k):
    return (rng.uniform(0, 1, (rows, cols, k)), rng.uniform(0, 1, (rows, cols - 1, k, k)),
            rng.uniform(0, 1, (rows - 1, cols, k, k)))


# --- inference ------------------------------------------------------------------------------

@pytest.mark.parametrize("damping", [0.0, 0.5])
@pytest.mark.parametrize("vertical", [False, True])
def test_bp_on_a_chain_is_the_exact_map(rng, damping, vertical):
    """Min-sum BP is exact on a tree: on a chain its decoding is the Viterbi path."""
    n, k = 9, 4
    for _ in range(5):
        unary = rng.uniform(0, 1, (n, k))
        pair = rng.uniform(0, 2, (n - 1, k, k))
        expected, best = _viterbi(unary, pair)
        if vertical:
            args = (unary[:, None], np.zeros((n, 0, k, k)), pair[:, None])
        else:
            args = (unary[None], pair[None], np.zeros((0, n, k, k)))
        result = min_sum_bp(*args, iterations=4 * n, damping=damping, icm=False)
        assert np.array_equal(result.labels.ravel(), expected)
        assert result.energy[-1] == pytest.approx(best, rel=1e-12)
        assert result.message_change[-1] < 1e-6  # converged to the fixed point


def test_energy_is_the_definition_and_never_rises(rng):
    unary, pair_h, pair_v = _random_mrf(rng, 6, 7, 5)
    labels = rng.integers(0, 5, (6, 7))
    assert mrf_energy(labels, unary, pair_h, pair_v) == pytest.approx(
        _energy_by_loops(labels, unary, pair_h, pair_v), rel=1e-12)
    result = min_sum_bp(unary, pair_h, pair_v, iterations=25, damping=0.5)
    energy = [result.initial_energy] + result.energy
    assert all(b <= a for a, b in zip(energy, energy[1:]))
    assert energy[-1] < energy[0]  # better than the independent choice it starts from
    assert result.energy[-1] == pytest.approx(
        _energy_by_loops(result.labels, unary, pair_h, pair_v), rel=1e-12)
    assert result.initial_energy == pytest.approx(
        _energy_by_loops(independent_labels(unary), unary, pair_h, pair_v), rel=1e-12)


def test_bp_finds_the_brute_force_map_of_a_small_loopy_grid():
    """A 2x3 grid with 3 labels (729 labellings): BP + ICM reaches the minimum
    found by enumeration (fixed costs, so the outcome is deterministic)."""
    unary, pair_h, pair_v = _random_mrf(np.random.default_rng(7), 2, 3, 3)
    best = min(_energy_by_loops(np.array(ls).reshape(2, 3), unary, pair_h, pair_v)
               for ls in itertools.product(range(3), repeat=6))
    result = min_sum_bp(unary, pair_h, pair_v, iterations=30)
    assert result.energy[-1] == pytest.approx(best, rel=1e-12)


# --- patches ----------------------------------------------------------------------------------

def test_patches_on_the_grid_and_assembly_by_overlap_averaging(rng):
    image = rng.uniform(0, 1, (17, 22, 3)).astype(np.float32)
    p, step = 5, 3
    padded = pad_to_grid(image, p, step)
    assert padded.shape == (17, 23, 3)  # 5 + 4*3 rows already fit; 22 -> 5 + 6*3 = 23
    assert np.array_equal(padded[:, :22], image) and np.array_equal(padded[:, 22], image[:, 21])
    patches = extract_patches(padded, p, step)
    assert patches.shape == (5, 7, p, p, 3)
    assert np.array_equal(patches[2, 3], padded[6:11, 9:14])
    # the grid's own patches average back to the image
    assert np.allclose(assemble_patches(patches, step), padded, atol=1e-6)

    chosen = rng.uniform(0, 1, (3, 4, p, p, 2))
    total = np.zeros((p + 2 * step, p + 3 * step, 2))
    count = np.zeros(total.shape[:2] + (1,))
    for r in range(3):
        for c in range(4):
            total[r * step:r * step + p, c * step:c * step + p] += chosen[r, c]
            count[r * step:r * step + p, c * step:c * step + p] += 1
    assert np.allclose(assemble_patches(chosen, step), total / count, atol=1e-12)
    assert dense_patches(image, 4, 2).shape == (len(range(0, 14, 2)) * len(range(0, 19, 2)), 48)


def test_overlap_costs_are_mean_squared_differences_on_the_overlap(rng):
    patches = rng.uniform(0, 1, (3, 4, 5, 6, 6, 3))  # rows, cols, K, P, P, C
    o = 2
    pair_h, pair_v = overlap_costs(patches, o)
    assert pair_h.shape == (3, 3, 5, 5) and pair_v.shape == (2, 4, 5, 5)
    for r, c, k, l in [(0, 0, 0, 0), (1, 1, 3, 4), (1, 2, 4, 1)]:
        left, right = patches[r, c, k], patches[r, c + 1, l]
        assert pair_h[r, c, k, l] == pytest.approx(np.mean((left[:, -o:] - right[:, :o]) ** 2))
        top, below = patches[r, c, k], patches[r + 1, c, l]
        assert pair_v[r, c, k, l] == pytest.approx(np.mean((top[-o:] - below[:o]) ** 2))


def _smooth_image(rng, h, w):
    from scipy import ndimage

    return np.clip(ndimage.gaussian_filter(rng.uniform(0, 1, (h, w, 3)), (1.5, 1.5, 0)) * 2
                   - 0.5, 0, 1).astype(np.float32)


def test_an_exact_copy_of_a_style_patch_is_found(rng):
    """The source is a crop of the second style image: with no rendering every
    site's nearest patch is the very patch of the style (distance 0), so both
    the independent choice and BP reproduce the crop exactly."""
    styles = [_smooth_image(rng, 30, 34), _smooth_image(rng, 36, 40)]
    source = styles[1][5:5 + 23, 7:7 + 28]  # 8 + 3*5 by 8 + 4*5: the grid fits
    result = translate(source, styles, rendering="identity", patch_size=8, overlap=3,
                       candidates=5, iterations=5, dims=192)
    assert np.allclose(result.mrf.unary[..., 0], 0.0, atol=1e-10)
    assert np.allclose(result.independent, source, atol=1e-6)
    assert np.allclose(result.image, source, atol=1e-6)
    assert result.bp.energy[-1] == pytest.approx(0.0, abs=1e-9)
    # and the exact patch is among the candidates when the crop is off the style's grid
    shifted = translate(styles[1][3:3 + 23, 2:2 + 28], styles, rendering="identity",
                        patch_size=8, overlap=3, candidates=5, iterations=0, dims=192)
    assert np.allclose(shifted.independent, styles[1][3:3 + 23, 2:2 + 28], atol=1e-6)


# --- the rendering's EM -------------------------------------------------------------------------

def _cartoon(seed, palette, n=40, cells=20):
    """Flat regions of palette colours (a Voronoi diagram)."""
    r = np.random.default_rng(seed)
    centres = r.uniform(0, n, (cells, 2))
    colour = r.integers(0, len(palette), cells)
    yy, xx = np.mgrid[:n, :n]
    d = (yy[..., None] - centres[:, 0]) ** 2 + (xx[..., None] - centres[:, 1]) ** 2
    return palette[colour[d.argmin(-1)]]


def test_em_recovers_a_known_colour_rendering_from_unpaired_images():
    """Style = a colour map (3x3 matrix + offset) of cartoons; the EM sees a
    style image and a *different* photo-like cartoon, never a pair, and must
    learn how style patches look as photo patches: each palette colour's
    style version is mapped back to the colour, and on a third, held-out pair
    it predicts the photo from its style version far better than no rendering
    or moment matching alone. (Hard EM finds a local optimum; this palette,
    fixed by its seed, is one where it reaches the right one.)"""
    palette = np.random.default_rng(0).uniform(0.1, 0.9, (6, 3))
    mix = np.array([[0.6, 0.2, 0.0], [0.1, 0.5, 0.2], [0.0, 0.3, 0.7]])
    offset = np.array([0.2, 0.05, -0.1])

    def style(image):
        return image @ mix.T + offset

    p = 3
    style_patches = dense_patches(style(_cartoon(1, palette)), p)
    photo_patches = dense_patches(_cartoon(2, palette), p)
    held_out = _cartoon(3, palette)
    x, y = dense_patches(style(held_out), p), dense_patches(held_out, p)
    variance = np.mean((y - y.mean(0)) ** 2)
    flat_style = np.repeat(style(palette)[:, None], p * p, 1).reshape(len(palette), -1)
    flat_photo = np.repeat(palette[:, None], p * p, 1).reshape(len(palette), -1)
    errors, colour_errors = {}, {}
    for kind in ("identity", "wct", "em"):
        rendering = fit_rendering(style_patches, photo_patches, kind=kind, dims=27,
                                  iterations=30)
        errors[kind] = np.mean((rendering.render(x) - y) ** 2) / variance
        colour_errors[kind] = np.abs(rendering.render(flat_style) - flat_photo).max()
        if kind == "em":
            assert all(b <= a for a, b in zip(rendering.objective, rendering.objective[1:]))
            assert len(rendering.objective) > 2
            # the whole held-out style image seen as a photo: patches rendered, overlaps averaged
            photo = rendering.render_image(style(held_out), p, 2)
            assert photo.shape == held_out.shape
            assert np.mean((photo - held_out) ** 2) / variance < 0.1
    assert colour_errors["em"] < 0.05 < 0.15 < min(colour_errors["wct"], colour_errors["identity"])
    assert errors["em"] < 0.1 < errors["wct"] and errors["identity"] > 0.3


def test_weighted_rendering_is_the_softmax_mean_of_the_candidates(rng):
    """Every site has the same costs and candidate ``k`` is the flat colour
    ``v_k`` everywhere, so every output pixel is ``sum_k softmax(-c / T)_k v_k``
    whatever the overlaps; T -> 0 gives the cheapest colour, T = inf the mean."""
    rows, cols, k, p, step = 3, 4, 5, 4, 3
    colours = rng.uniform(0.1, 0.9, (k, 3))
    costs = np.broadcast_to(rng.uniform(0, 0.05, k), (rows, cols, k))
    patches = np.broadcast_to(colours[:, None, None], (rows, cols, k, p, p, 3))
    source = np.zeros((p + (rows - 1) * step, p + (cols - 1) * step, 3), np.float32)
    mrf = PatchMRF(source, p, step, library=None, candidates=None, patches=patches,
                   unary=costs, pair_h=None, pair_v=None, rendering=None)
    for temperature, expected in [
            (0.02, np.exp(-costs[0, 0] / 0.02) @ colours / np.exp(-costs[0, 0] / 0.02).sum()),
            (1e-9, colours[np.argmin(costs[0, 0])]), (np.inf, colours.mean(0))]:
        image = mrf.render_weighted(costs, temperature)
        assert image.shape == source.shape
        np.testing.assert_allclose(image, np.broadcast_to(expected, source.shape), atol=1e-6)
    with pytest.raises(ValueError, match="temperature"):
        mrf.render_weighted(costs, 0.0)


# --- Image Analogies --------------------------------------------------------------------------

def test_image_analogy_of_the_example_itself_is_its_rendering(rng):
    """``A : A' :: A : B'`` gives ``B' = A'`` exactly: every pixel's own position
    matches with distance 0 (A' is a non-local random rendering, so only the
    right position reproduces it)."""
    a = rng.uniform(0, 1, (14, 17, 3))
    a_prime = rng.uniform(0, 1, (14, 17, 3))
    for kappa in (0.0, 2.0):
        result = image_analogy(a, a_prime, a, kappa=kappa)
        assert np.allclose(result.image, a_prime, atol=1e-6)
        rows, cols = np.indices(a.shape[:2])
        assert np.array_equal(result.source, np.stack([rows, cols], -1))


# --- command line -----------------------------------------------------------------------------

def _png(path, image):
    Image.fromarray(np.round(np.asarray(image) * 255).astype(np.uint8)).save(path)
    return path


def _one_error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.fixture
def files(tmp_path, rng):
    return {"source": _png(tmp_path / "photo.png", _smooth_image(rng, 20, 24)),
            "style": _png(tmp_path / "style.png", _smooth_image(rng, 30, 30)),
            "tiny": _png(tmp_path / "tiny.png", _smooth_image(rng, 5, 30))}


def test_cli_bad_input_is_one_clear_line(files, tmp_path, capsys):
    out = tmp_path / "out.png"
    source, style = str(files["source"]), str(files["style"])
    cases = [
        ([str(tmp_path / "missing.jpg"), style], ["missing.jpg", "not found"]),
        ([source, str(files["tiny"])], ["tiny.png", "30x5", "--patch-size 8"]),
        ([source, style, "--overlap", "8"], ["--overlap", "--patch-size", "8"]),
        ([source, style, "--damping", "1.5"], ["--damping", "1.5"]),
        ([source, style, "--candidates", "0"], ["--candidates", "positive"]),
        ([source, style, "--size", "0"], ["--size"]),
        ([source, style, "--paired-photo", source], ["--paired-photo", "one size"]),
    ]
    for args, words in cases:
        assert cli(args + ["-o", str(out)]) == 2
        line = _one_error_line(capsys.readouterr().err)
        assert all(w in line for w in words), line
    assert cli([source, style, "-o", str(tmp_path / "no_folder" / "x.png")]) == 2
    assert "--output" in _one_error_line(capsys.readouterr().err)
    assert cli([source, style, "-o", str(tmp_path / "x.jpg")]) == 2
    assert ".png" in _one_error_line(capsys.readouterr().err)
    assert not out.exists()


def test_cli_writes_marked_images_and_never_replaces(files, tmp_path, capsys):
    out = tmp_path / "out.png"
    args = [str(files["source"]), str(files["style"]), "-o", str(out), "--patch-size", "6",
            "--overlap", "2", "--candidates", "4", "--iterations", "5", "--em-iterations", "2"]
    assert cli(args) == 0
    assert "wrote" in capsys.readouterr().out
    with Image.open(out) as img:
        assert img.size == (24, 20)
    meta = read_provenance(out)
    assert meta["AI-Generated"] == "true" and "trainedAlgorithmicMedia" in meta["DigitalSourceType"]
    assert meta["Parameters"]["patch_size"] == 6 and meta["Parameters"]["method"] == "bp"
    before = out.read_bytes()
    assert cli(args + ["--method", "independent"]) == 0
    assert out.read_bytes() == before
    assert read_provenance(tmp_path / "out_1.png")["Parameters"]["method"] == "independent"
