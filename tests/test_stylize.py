"""stylize(): optimisation behaviour on the real ImageNet VGG19 at 64 px."""

from __future__ import annotations

import numpy as np
import pytest

from data import load_image, samples
from nst.stylize import StylizeResult, resolve_precision, stylize

SIZE = 64


@pytest.fixture(scope="module")
def pair():
    return (load_image(samples.path("grace_hopper"), max_side=SIZE),
            load_image(samples.path("starry_night"), max_side=SIZE))


def run(pair, extractor, **kwargs) -> StylizeResult:
    kwargs.setdefault("size", SIZE)
    kwargs.setdefault("steps", 20)
    return stylize(pair[0], pair[1], extractor=extractor, progress=False, **kwargs)


def numpy_uv(rgb: np.ndarray) -> np.ndarray:
    """BT.601 chrominance, written out (independent of tf.image)."""
    m = np.array([[-0.14714119, -0.28886916, 0.43601035],
                  [0.61497538, -0.51496512, -0.10001026]])
    return rgb @ m.T


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_loss_decreases_and_image_stays_in_range(pair, vgg_imagenet, optimizer):
    r = run(pair, vgg_imagenet, optimizer=optimizer, steps=30)
    losses = [h["loss"] for h in r.history]
    assert len(losses) == 30
    assert min(losses[-5:]) < 0.5 * losses[0]
    assert r.image.dtype == np.float32 and r.image.shape == (64, 55, 3)
    assert 0.0 <= r.image.min() and r.image.max() <= 1.0
    assert r.params["optimizer"] == optimizer
    for h in r.history:  # the total is the sum of its parts
        assert h["loss"] == pytest.approx(h["style"] + h["content"] + h["tv"], rel=1e-4)
    # result.loss is the loss of the returned image: for L-BFGS the best point seen
    if optimizer == "lbfgs":
        assert r.loss == pytest.approx(min(losses), rel=1e-3)
    else:  # Adam's last update keeps descending
        assert r.loss < losses[-1]


def test_lbfgs_beats_adam_at_equal_evaluations(pair, vgg_imagenet):
    adam = run(pair, vgg_imagenet, optimizer="adam", steps=40)
    lbfgs = run(pair, vgg_imagenet, optimizer="lbfgs", steps=40)
    assert min(h["loss"] for h in lbfgs.history) < min(h["loss"] for h in adam.history)


def test_deterministic_with_seed(pair, vgg_imagenet):
    a = run(pair, vgg_imagenet, init="noise", seed=3, steps=5)
    b = run(pair, vgg_imagenet, init="noise", seed=3, steps=5)
    c = run(pair, vgg_imagenet, init="noise", seed=4, steps=5)
    np.testing.assert_array_equal(a.image, b.image)
    assert [h["loss"] for h in a.history] == [h["loss"] for h in b.history]
    assert np.abs(a.image - c.image).mean() > 0.01


def test_init_choices_start_where_they_say(pair, vgg_imagenet):
    seen = {}
    for init in ("content", "style", "noise"):
        first = []
        run(pair, vgg_imagenet, init=init, steps=1, callback=lambda s, im: first.append(im),
            callback_every=1, learning_rate=1e-9)
        seen[init] = first[0]
    content = pair[0]
    assert np.abs(seen["content"] - content).max() < 1e-3
    assert np.abs(seen["style"] - content).mean() > 0.05
    assert 0.4 < seen["noise"].mean() < 0.6 and seen["noise"].std() > 0.25


def test_blend_weights_select_styles(pair, vgg_imagenet):
    other = load_image(samples.path("coffee"), max_side=SIZE)
    single = run(pair, vgg_imagenet, steps=5)
    blended = stylize(pair[0], [pair[1], other], style_blend=[1.0, 0.0], size=SIZE, steps=5,
                      extractor=vgg_imagenet, progress=False)
    np.testing.assert_allclose(blended.image, single.image, atol=1e-5)
    mixed = stylize(pair[0], [pair[1], other], style_blend=[0.5, 0.5], size=SIZE, steps=5,
                    extractor=vgg_imagenet, progress=False)
    assert np.abs(mixed.image - single.image).mean() > 1e-3


def test_preserve_color_keeps_content_chrominance(pair, vgg_imagenet):
    r = run(pair, vgg_imagenet, preserve_color=True, steps=15)
    plain = run(pair, vgg_imagenet, steps=15)
    content_uv = numpy_uv(pair[0])
    kept = np.abs(numpy_uv(r.image) - content_uv).mean()
    changed = np.abs(numpy_uv(plain.image) - content_uv).mean()
    assert kept < 0.01 < changed


def test_multiscale_schedule(pair, vgg_imagenet):
    sizes = []
    r = run(pair, vgg_imagenet, scales=2, steps=[6, 3], optimizer="lbfgs",
            callback=lambda s, im: sizes.append(im.shape[:2]), callback_every=1000)
    assert [(h["scale"], h["height"]) for h in r.history] == [(0, 32)] * 6 + [(1, 64)] * 3
    assert sizes == [(32, 28), (64, 55)]  # callback at the end of each scale
    assert r.image.shape == (64, 55, 3)


def test_callback_every(pair, vgg_imagenet):
    steps = []
    run(pair, vgg_imagenet, steps=7, callback=lambda s, im: steps.append(s), callback_every=3)
    assert steps == [3, 6, 7]


def test_stop_loss_ends_early(pair, vgg_imagenet):
    full = run(pair, vgg_imagenet, optimizer="lbfgs", steps=30)
    losses = [h["loss"] for h in full.history]
    target = losses[10]
    first = next(i for i, loss in enumerate(losses) if loss <= target)  # line search may dip
    early = run(pair, vgg_imagenet, optimizer="lbfgs", steps=30, stop_loss=target)
    assert len(early.history) == first + 1 and early.history[-1]["loss"] <= target


def test_bf16_compute_returns_float32(pair):
    r = stylize(pair[0], pair[1], size=32, steps=2, precision="bfloat16", progress=False)
    assert r.image.dtype == np.float32 and r.params["precision"] == "bfloat16"
    assert resolve_precision("auto") in ("float32", "bfloat16")


@pytest.mark.parametrize("kwargs,message", [
    (dict(optimizer="sgd"), "optimizer must be"),
    (dict(init="gray"), "init must be"),
    (dict(size=8), "size must be at least 16"),
    (dict(scales=[1.0, 0.5]), "scales must be increasing"),
    (dict(scales=2, steps=[1, 2, 3]), "one per scale"),
    (dict(style_blend=[1.0, 2.0]), "style_blend must be 1"),
    (dict(precision="fp8"), "precision must be"),
])
def test_bad_parameters_are_named(pair, vgg_imagenet, kwargs, message):
    with pytest.raises(ValueError, match=message):
        run(pair, vgg_imagenet, **kwargs)


def test_bad_image_shape(vgg_imagenet, pair):
    with pytest.raises(ValueError, match=r"shape \(H, W, 3\)"):
        stylize(pair[0][..., :2], pair[1], extractor=vgg_imagenet, size=32, steps=1,
                progress=False)
