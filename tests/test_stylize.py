"""stylize(): optimisation behaviour on the real ImageNet VGG19 at 64 px.

Numeric comparisons run on the float32 extractor (``vgg_imagenet``, and
``precision="float32"`` passed explicitly), whatever the machine or
``DEEPFAKE_LAB_PRECISION`` would pick for ``"auto"``.
"""

from __future__ import annotations

import signal

import numpy as np
import pytest
import tensorflow as tf

import core.precision
from core.cli import Interrupted
from data import load_image, samples
from nst.stylize import StylizeInterrupted, StylizeResult, get_extractor, resolve_precision, stylize

SIZE = 64


@pytest.fixture(scope="module")
def pair():
    return (load_image(samples.path("grace_hopper"), max_side=SIZE),
            load_image(samples.path("starry_night"), max_side=SIZE))


def run(pair, extractor, **kwargs) -> StylizeResult:
    kwargs.setdefault("size", SIZE)
    kwargs.setdefault("steps", 20)
    kwargs.setdefault("precision", "float32")
    return stylize(pair[0], pair[1], extractor=extractor, progress=False, **kwargs)


@pytest.fixture(scope="module")
def runs(pair, vgg_imagenet) -> dict[str, StylizeResult]:
    """30 loss evaluations of each optimiser (shared by the tests below)."""
    return {opt: run(pair, vgg_imagenet, optimizer=opt, steps=30) for opt in ("adam", "lbfgs")}


def numpy_uv(rgb: np.ndarray) -> np.ndarray:
    """BT.601 chrominance, written out (independent of tf.image)."""
    m = np.array([[-0.14714119, -0.28886916, 0.43601035],
                  [0.61497538, -0.51496512, -0.10001026]])
    return rgb @ m.T


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_loss_decreases_and_image_stays_in_range(runs, optimizer):
    r = runs[optimizer]
    losses = [h["loss"] for h in r.history]
    assert len(losses) == 30
    assert min(losses[-5:]) < 0.5 * losses[0]
    assert r.image.dtype == np.float32 and r.image.shape == (64, 55, 3)
    assert 0.0 <= r.image.min() and r.image.max() <= 1.0
    assert r.params["optimizer"] == optimizer and r.params["precision"] == "float32"
    for h in r.history:  # the total is the sum of its parts
        assert h["loss"] == pytest.approx(h["style"] + h["content"] + h["tv"], rel=1e-4)
    # result.loss is the loss of the returned image: for L-BFGS the best point seen
    if optimizer == "lbfgs":
        assert r.loss == pytest.approx(min(losses), rel=1e-3)
    else:  # Adam's last update keeps descending
        assert r.loss < losses[-1]


def test_lbfgs_beats_adam_at_equal_evaluations(runs):
    assert (min(h["loss"] for h in runs["lbfgs"].history)
            < min(h["loss"] for h in runs["adam"].history))


def test_stop_loss_ends_early(pair, vgg_imagenet, runs):
    losses = [h["loss"] for h in runs["lbfgs"].history]
    target = losses[10]
    first = next(i for i, loss in enumerate(losses) if loss <= target)  # line search may dip
    early = run(pair, vgg_imagenet, optimizer="lbfgs", steps=30, stop_loss=target)
    assert len(early.history) == first + 1 and early.history[-1]["loss"] <= target


def test_deterministic_with_seed(pair, vgg_imagenet):
    a = run(pair, vgg_imagenet, init="noise", seed=3, steps=5)
    b = run(pair, vgg_imagenet, init="noise", seed=3, steps=5)
    c = run(pair, vgg_imagenet, init="noise", seed=4, steps=5)
    np.testing.assert_array_equal(a.image, b.image)
    assert [h["loss"] for h in a.history] == [h["loss"] for h in b.history]
    assert np.abs(a.image - c.image).mean() > 0.01


def test_init_choices_start_where_they_say(pair, vgg_imagenet):
    seen = {}
    for init in ("content", "style", "noise"):  # 0 steps: the callback sees the start
        first = []
        run(pair, vgg_imagenet, init=init, steps=0, seed=3,
            callback=lambda s, im: first.append((s, im)))
        assert [s for s, _ in first] == [0]
        seen[init] = first[0][1]
    np.testing.assert_array_equal(seen["content"], pair[0])
    assert np.abs(seen["style"] - pair[0]).mean() > 0.05
    noise = np.random.default_rng(3).uniform(0.0, 1.0, (64, 55, 3))  # documented: seeded uniform
    np.testing.assert_allclose(seen["noise"], noise, atol=1e-7)


def test_blend_weights_select_styles(pair, vgg_imagenet):
    other = load_image(samples.path("coffee"), max_side=SIZE)
    single = run(pair, vgg_imagenet, steps=5)
    blended = stylize(pair[0], [pair[1], other], style_blend=[1.0, 0.0], size=SIZE, steps=5,
                      extractor=vgg_imagenet, progress=False, precision="float32")
    np.testing.assert_allclose(blended.image, single.image, atol=1e-5)
    mixed = stylize(pair[0], [pair[1], other], style_blend=[0.5, 0.5], size=SIZE, steps=5,
                    extractor=vgg_imagenet, progress=False, precision="float32")
    assert np.abs(mixed.image - single.image).mean() > 1e-3


def test_preserve_color_keeps_content_chrominance(pair, vgg_imagenet, runs):
    r = run(pair, vgg_imagenet, preserve_color=True, steps=15)
    content_uv = numpy_uv(pair[0])
    kept = np.abs(numpy_uv(r.image) - content_uv).mean()
    changed = np.abs(numpy_uv(runs["adam"].image) - content_uv).mean()
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


def _interrupt_at(k, images, exc=KeyboardInterrupt):
    def callback(step, image):
        images[step] = image
        if step == k:
            raise exc()
    return callback


def test_ctrl_c_keeps_the_current_adam_image(pair, vgg_imagenet):
    images = {}
    with pytest.raises(StylizeInterrupted) as info:
        run(pair, vgg_imagenet, steps=50, callback=_interrupt_at(3, images), callback_every=1)
    partial = info.value.result
    assert isinstance(info.value, KeyboardInterrupt) and info.value.signum == signal.SIGINT
    assert [h["step"] for h in partial.history] == [1, 2, 3]
    assert partial.params["partial"] is True and partial.params["step"] == 3
    assert np.isnan(partial.loss)
    np.testing.assert_array_equal(partial.image, images[3])  # the image after step 3
    assert np.abs(partial.image - pair[0]).max() > 1e-3  # optimised, not the start


def test_sigterm_keeps_the_best_lbfgs_image(pair, vgg_imagenet):
    images = {}
    with pytest.raises(StylizeInterrupted) as info:
        run(pair, vgg_imagenet, optimizer="lbfgs", steps=50, callback_every=1,
            callback=_interrupt_at(6, images, lambda: Interrupted(signal.SIGTERM)))
    partial = info.value.result
    assert info.value.signum == signal.SIGTERM and len(partial.history) == 6
    losses = [h["loss"] for h in partial.history]
    best = partial.history[int(np.argmin(losses))]["step"]
    np.testing.assert_array_equal(partial.image, images[best])  # L-BFGS keeps its best point


def test_bf16_compute_returns_float32(pair):
    r = stylize(pair[0], pair[1], size=32, steps=2, precision="bf16", progress=False)
    assert r.image.dtype == np.float32 and r.params["precision"] == "bf16"
    conv = get_extractor("imagenet", "bf16").vgg.get_layer("block1_conv1")
    assert conv.compute_dtype == "bfloat16" and conv.variable_dtype == "float32"


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_auto_on_a_bf16_cpu_finishes_in_float32(pair, monkeypatch, optimizer):
    """"auto" where bf16 is native: bf16 steps first, float32 steps last, and
    result.loss is the float32 loss of the returned image, recomputed here
    from the paper's definition on the float32 VGG19."""
    monkeypatch.setenv(core.precision.PRECISION_ENV, "bf16")
    r = stylize(pair[0], pair[1], size=32, steps=10, optimizer=optimizer, precision="auto",
                progress=False)
    flags = [h["bf16"] for h in r.history]
    assert r.params["precision"] == "bf16+float32" and len(flags) <= 10
    assert flags[0] == 1.0 and flags[-1] == 0.0 and flags == sorted(flags, reverse=True)
    ex = get_extractor("imagenet", "float32")
    x = tf.image.resize(tf.constant(pair[0][None]), r.image.shape[:2], antialias=True)
    s = tf.image.resize(tf.constant(pair[1][None]), _fit_hw(pair[1].shape, 32), antialias=True)
    img = tf.constant(r.image[None])
    f, fc, fs = ex(img), ex(tf.clip_by_value(x, 0, 1)), ex(tf.clip_by_value(s, 0, 1))

    def gram(t):
        t = tf.reshape(t, [-1, t.shape[-1]])
        return tf.matmul(t, t, transpose_a=True) / t.shape[0]

    style = sum(np.mean((gram(f["style"][k]) - gram(fs["style"][k])) ** 2)
                for k in f["style"]) * 1e-2 / len(f["style"])
    content = sum(np.mean((f["content"][k] - fc["content"][k]) ** 2)
                  for k in f["content"]) * 1e4 / len(f["content"])
    tv = 30.0 * float(tf.image.total_variation(img)[0])
    assert r.loss == pytest.approx(style + content + tv, rel=2e-3)


def test_auto_on_a_bf16_cpu_keeps_coarse_scales_bf16_and_stops_on_float32(pair, monkeypatch):
    monkeypatch.setenv(core.precision.PRECISION_ENV, "bf16")
    r = stylize(pair[0], pair[1], size=32, scales=2, steps=[3, 10], optimizer="lbfgs",
                precision="auto", progress=False)
    assert all(h["bf16"] == 1.0 for h in r.history if h["scale"] == 0)
    assert r.history[-1]["bf16"] == 0.0
    # a bf16 loss below stop_loss hands over; only the float32 one stops
    r = stylize(pair[0], pair[1], size=32, steps=10, optimizer="adam", precision="auto",
                stop_loss=1e30, progress=False)
    assert [h["bf16"] for h in r.history] == [1.0, 0.0] and r.loss <= 1e30


def _fit_hw(shape, size):
    s = size / max(shape[:2])
    return max(1, round(shape[0] * s)), max(1, round(shape[1] * s))


@pytest.fixture
def cpu(tmp_path, monkeypatch):
    """Make "auto" read a fake cpuinfo (flags given) on a machine without GPUs."""
    real = core.precision.bf16_supported
    monkeypatch.delenv(core.precision.PRECISION_ENV, raising=False)
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
    info = tmp_path / "cpuinfo"

    def with_flags(flags: str) -> None:
        info.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
        monkeypatch.setattr(core.precision, "bf16_supported", lambda path=info: real(path))

    return with_flags


def test_auto_precision_follows_the_cpu_and_the_override(cpu, monkeypatch):
    cpu("fpu sse2 avx2 fma")
    assert resolve_precision("auto") == "float32"
    cpu("fpu avx2 avx512f avx512_bf16")
    assert resolve_precision("auto") == "bf16"
    monkeypatch.setenv("DEEPFAKE_LAB_PRECISION", "float32")  # the override wins
    assert resolve_precision("auto") == "float32"
    cpu("fpu avx2")
    monkeypatch.setenv("DEEPFAKE_LAB_PRECISION", "bf16")
    assert resolve_precision("auto") == "bf16"
    assert resolve_precision("float32") == "float32"  # explicit values ignore both
    monkeypatch.setenv("DEEPFAKE_LAB_PRECISION", "half")
    with pytest.raises(ValueError, match="DEEPFAKE_LAB_PRECISION must be"):
        resolve_precision("auto")


@pytest.mark.parametrize("kwargs,message", [
    (dict(optimizer="sgd"), "optimizer must be"),
    (dict(init="gray"), "init must be"),
    (dict(size=8), "size must be at least 16"),
    (dict(scales=[1.0, 0.5]), "scales must be increasing"),
    (dict(scales=2, steps=[1, 2, 3]), "one per scale"),
    (dict(style_blend=[1.0, 2.0]), "style_blend must be 1 non-negative"),
    (dict(precision="fp8"), "precision must be one of auto, float32, bf16"),
    (dict(precision="bfloat16"), "precision must be one of"),  # one spelling: bf16
    (dict(learning_rate=0.0), "learning_rate must be > 0"),
    (dict(tv_weight=-1.0), "tv_weight must be >= 0"),
])
def test_bad_parameters_are_named(pair, vgg_imagenet, kwargs, message):
    with pytest.raises(ValueError, match=message):
        run(pair, vgg_imagenet, **kwargs)


def test_bad_image_shape(vgg_imagenet, pair):
    with pytest.raises(ValueError, match=r"content: images must have shape \(H, W, 3\)"):
        stylize(pair[0][..., :2], pair[1], extractor=vgg_imagenet, size=32, steps=1,
                progress=False)
