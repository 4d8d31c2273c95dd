"""StarGAN: the losses against hand-computed values and NumPy, the networks'
shapes and label conditioning, the digit attributes against their
definitions (SciPy morphology, NumPy), the metrics' floors with a judge whose
readings are known, exact resume and the translate CLI.

Every numeric comparison runs at precision="float32" (TINY, explicit dtypes)."""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from scipy import ndimage

from core.gan_losses import gradient_penalty, wasserstein_critic_loss, wasserstein_generator_loss
from data import read_provenance
from data.digit_attributes import (
    ATTRIBUTES,
    all_domains,
    attribute_stream,
    attribute_test,
    bold_digits,
    render_attributes,
)
from data.mnist import load_mnist
from data.mnistm import background_bank
from stargan.__main__ import main as cli
from stargan.config import TrainConfig
from stargan.losses import classification_loss, permute_labels
from stargan.metrics import translation_scores
from stargan.models import LabelModulation, LabelPlanes, build_discriminator, build_generator
from stargan.train import train

TINY = dict(g_conv_dim=8, d_conv_dim=8, g_repeat_num=1, batch_size=2, n_critic=2,
            log_every=1, sample_every=100, checkpoint_every=2, precision="float32")


@pytest.fixture(scope="module")
def mnist():
    return load_mnist()


# --- losses -----------------------------------------------------------------------------------

def test_gradient_penalty_of_linear_critics_is_hand_computed():
    """f(x) = sum(w * x) has gradient w everywhere: GP = (||w||_2 - 1)^2,
    whatever real, fake and alpha are, with scores per sample or as a map."""
    rng = np.random.default_rng(0)
    real = tf.constant(rng.uniform(-1, 1, (3, 2, 2, 1)), tf.float32)
    fake = tf.constant(rng.uniform(-1, 1, (3, 2, 2, 1)), tf.float32)
    alpha = tf.constant([0.0, 0.3, 1.0], shape=(3, 1, 1, 1))
    for value, expected in ((0.5, 0.0), (1.0, 1.0), (3.0, 25.0)):  # ||w|| = 2 * value
        w = tf.fill((2, 2, 1), value)
        per_sample = gradient_penalty(lambda t: tf.reduce_sum(t * w, axis=[1, 2, 3]),
                                      real, fake, alpha)
        as_map = gradient_penalty(lambda t: t * w, real, fake, alpha)  # PatchGAN-like scores
        assert per_sample.dtype == tf.float32
        np.testing.assert_allclose(float(per_sample), expected, atol=1e-5)
        np.testing.assert_allclose(float(as_map), expected, atol=1e-5)
    w = rng.normal(size=(4, 4, 3)).astype(np.float32)
    real, fake = rng.uniform(-1, 1, (2, 2, 4, 4, 3)).astype(np.float32)
    got = gradient_penalty(lambda t: tf.reduce_sum(t * w, axis=[1, 2, 3]), real, fake,
                           tf.constant([0.5, 0.1], shape=(2, 1, 1, 1)))
    np.testing.assert_allclose(float(got), (np.linalg.norm(w.astype(np.float64)) - 1) ** 2,
                               rtol=1e-5)


def test_gradient_penalty_interpolates_per_sample_and_averages():
    """f(x) = sum(x^2) / 2 has gradient x: the norm is each sample's own
    ||alpha_i real_i + (1 - alpha_i) fake_i||, and GP their batch mean."""
    rng = np.random.default_rng(1)
    real = rng.uniform(-1, 1, (2, 3, 3, 2))
    fake = rng.uniform(-1, 1, (2, 3, 3, 2)) * 0.2
    alpha = np.array([0.25, 0.9]).reshape(2, 1, 1, 1)
    got = gradient_penalty(lambda t: 0.5 * tf.reduce_sum(t * t, axis=[1, 2, 3]),
                           tf.constant(real, tf.float32), tf.constant(fake, tf.float32),
                           tf.constant(alpha, tf.float32))
    x_hat = alpha * real + (1 - alpha) * fake
    norms = np.sqrt((x_hat ** 2).reshape(2, -1).sum(1))
    assert abs(norms[0] - norms[1]) > 0.1  # the two samples really differ
    np.testing.assert_allclose(float(got), np.mean((norms - 1) ** 2), rtol=1e-5)


def test_wasserstein_losses_on_known_scores():
    real = tf.constant([1.0, 2.0, 3.0])
    fake = tf.constant([[1.0], [2.0]])  # any shape: means over all scores
    assert float(wasserstein_critic_loss(real, fake)) == pytest.approx(1.5 - 2.0)
    assert float(wasserstein_generator_loss(fake)) == pytest.approx(-1.5)
    as_bf16 = wasserstein_generator_loss(tf.cast(fake, tf.bfloat16))
    assert as_bf16.dtype == tf.float32 and float(as_bf16) == pytest.approx(-1.5)


def _log_sigmoid(z):
    return -np.logaddexp(0.0, -z)


def test_classification_loss_on_known_logits():
    # zero logits: log 2 per attribute, summed over 3; uniform over 4 exclusive domains: log 4
    labels = tf.constant([[1.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    assert float(classification_loss(tf.zeros((2, 3)), labels)) == pytest.approx(3 * math.log(2))
    one_hot = tf.constant([[0.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
    assert float(classification_loss(tf.zeros((2, 4)), one_hot, exclusive=True)) == \
        pytest.approx(math.log(4))

    rng = np.random.default_rng(2)
    z = rng.normal(0, 3, (5, 4))
    y = rng.integers(0, 2, (5, 4)).astype(np.float64)
    bce = -(y * _log_sigmoid(z) + (1 - y) * _log_sigmoid(-z))
    got = classification_loss(tf.constant(z, tf.float32), tf.constant(y, tf.float32))
    np.testing.assert_allclose(float(got), bce.sum(1).mean(), rtol=1e-5)

    y1 = np.eye(4)[rng.integers(0, 4, 5)]
    log_softmax = z - np.log(np.exp(z).sum(1, keepdims=True))
    got = classification_loss(tf.constant(z, tf.float32), tf.constant(y1, tf.float32),
                              exclusive=True)
    np.testing.assert_allclose(float(got), -(y1 * log_softmax).sum(1).mean(), rtol=1e-5)


def test_permute_labels_keeps_the_rows_and_follows_the_key():
    # 64 distinct rows (0..63 in binary): equal sorted rows means a permutation
    labels = ((np.arange(64)[:, None] >> np.arange(6)) & 1).astype(np.float32)
    a = permute_labels(tf.constant(labels), tf.constant([3, 4], tf.int64)).numpy()
    again = permute_labels(tf.constant(labels), tf.constant([3, 4], tf.int64)).numpy()
    other = permute_labels(tf.constant(labels), tf.constant([3, 5], tf.int64)).numpy()
    for got in (a, other):
        assert got.shape == labels.shape
        np.testing.assert_array_equal(got[np.lexsort(got.T)], labels[np.lexsort(labels.T)])
    np.testing.assert_array_equal(a, again)
    assert not np.array_equal(a, other)
    assert not np.array_equal(a, labels)


# --- networks ---------------------------------------------------------------------------------

def test_all_domains_counts_in_binary():
    for n in (1, 3, 5):
        d = all_domains(n)
        assert d.dtype == np.float32 and d.shape == (2 ** n, n)
        expected = [[(k >> (n - 1 - j)) & 1 for j in range(n)] for k in range(2 ** n)]
        np.testing.assert_array_equal(d, expected)


@pytest.mark.parametrize("modulate", [False, True])
def test_generator_shape_range_and_label_conditioning_for_every_domain(modulate):
    tf.keras.utils.set_random_seed(0)
    g = build_generator(32, 3, conv_dim=8, repeat_num=1, modulate=modulate, dtype="float32")
    labels = all_domains(3)
    rng = np.random.default_rng(3)
    one = rng.uniform(-1, 1, (1, 32, 32, 3)).astype(np.float32)
    images = np.concatenate([one] * 4 + [rng.uniform(-1, 1, (4, 32, 32, 3)).astype(np.float32)])
    out = g([images, labels], training=False).numpy()
    assert out.shape == (8, 32, 32, 3) and out.dtype == np.float32
    assert np.isfinite(out).all() and out.min() >= -1.0 and out.max() <= 1.0
    # the same image under the first four labels: four different outputs
    for i, j in itertools.combinations(range(4), 2):
        assert np.abs(out[i] - out[j]).max() > 1e-4, (labels[i], labels[j])


@pytest.mark.parametrize("repeat_num", [2, 4])
def test_discriminator_heads_shapes(repeat_num):
    d = build_discriminator(32, 5, conv_dim=8, repeat_num=repeat_num, dtype="float32")
    out = d(tf.random.uniform((3, 32, 32, 3), -1, 1), training=False)
    side = 32 // 2 ** repeat_num
    assert tuple(out["src"].shape) == (3, side, side, 1)
    assert tuple(out["cls"].shape) == (3, 5)
    assert out["src"].dtype == tf.float32 and out["cls"].dtype == tf.float32


def test_label_planes_are_tiled_labels_as_channels():
    rng = np.random.default_rng(4)
    image = rng.normal(size=(2, 5, 7, 3)).astype(np.float32)
    labels = rng.integers(0, 2, (2, 4)).astype(np.float32)
    got = LabelPlanes()([tf.constant(image), tf.constant(labels)]).numpy()
    expected = np.concatenate([image, np.tile(labels[:, None, None, :], (1, 5, 7, 1))], -1)
    np.testing.assert_array_equal(got, expected)


def test_label_modulation_is_a_label_chosen_scale_and_shift():
    """x * (1 + labels @ W_s) + labels @ W_b, per sample and channel; the
    identity at initialisation."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(3, 4, 5, 6)).astype(np.float32)
    labels = rng.integers(0, 2, (3, 2)).astype(np.float32)
    layer = LabelModulation()
    np.testing.assert_array_equal(layer([tf.constant(x), tf.constant(labels)]).numpy(), x)
    w_s, w_b = rng.normal(size=(2, 6)), rng.normal(size=(2, 6))
    layer.scale.assign(w_s.astype(np.float32))
    layer.shift.assign(w_b.astype(np.float32))
    got = layer([tf.constant(x), tf.constant(labels)]).numpy()
    expected = x * (1 + labels @ w_s)[:, None, None, :] + (labels @ w_b)[:, None, None, :]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_exclusive_domain_folder_trains_with_one_hot_labels(tmp_path, capsys):
    """A folder of per-domain subfolders: exclusive domains (softmax cross-
    entropy), labels one-hot in sorted subfolder order; the CLI trains it and
    translate wants exactly one domain."""
    rng = np.random.default_rng(6)
    for domain, level in (("dark", 40), ("light", 220)):
        (tmp_path / "faces" / domain).mkdir(parents=True)
        for i in range(3):
            pixels = np.clip(rng.normal(level, 10, (36, 36, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(tmp_path / "faces" / domain / f"{i}.png")
    config = TrainConfig(run_dir=str(tmp_path / "run"), data=str(tmp_path / "faces"),
                         image_size=32, crop_size=32, steps=1, **TINY)
    assert config.exclusive and config.attribute_names() == ("dark", "light")
    result = train(config, show_progress=False)
    assert result.attributes == ("dark", "light") and math.isfinite(result.history[-1]["d_cls"])
    Image.fromarray(np.full((32, 32, 3), 220, np.uint8)).save(tmp_path / "in.png")
    code = cli(["translate", "--run", str(tmp_path / "run"), "--input", str(tmp_path / "in.png"),
                "--output", str(tmp_path / "out.png"), "--attrs", "dark=1,light=1"])
    assert code == 2 and "exactly one of dark, light" in capsys.readouterr().err
    code = cli(["translate", "--run", str(tmp_path / "run"), "--input", str(tmp_path / "in.png"),
                "--output", str(tmp_path / "out.png"), "--attrs", "dark=1"])
    assert code == 0 and (tmp_path / "out.png").is_file()


# --- digit attributes -------------------------------------------------------------------------

def _render_np(digits: np.ndarray, attrs: np.ndarray, backgrounds: np.ndarray) -> np.ndarray:
    """The module's definition: dilate (3x3) if bold, pad 2 px, |bg - x| if
    textured, 1 - x if inverted."""
    out = []
    for digit, (inverted, bold, textured), bg in zip(digits, attrs, backgrounds):
        x = ndimage.grey_dilation(digit, size=(3, 3)) if bold else digit
        x = np.repeat(np.pad(x.astype(np.float64) / 255.0, 2)[..., None], 3, -1)
        if textured:
            x = np.abs(bg - x)
        if inverted:
            x = 1.0 - x
        out.append(x)
    return np.stack(out)


def test_bold_digits_is_scipy_grey_dilation():
    rng = np.random.default_rng(5)
    x = rng.integers(0, 256, (3, 28, 28), dtype=np.uint8)
    x[0] = 0
    x[0, 0, 0] = x[0, 13, 27] = x[0, 20, 10] = 200  # corner, edge and inside
    got = bold_digits(x)
    assert got.dtype == tf.uint8
    np.testing.assert_array_equal(got.numpy(), ndimage.grey_dilation(x, size=(1, 3, 3)))
    xf = rng.uniform(0, 1, (2, 28, 28)).astype(np.float32)
    got = bold_digits(xf)
    assert got.dtype == tf.float32
    np.testing.assert_array_equal(got.numpy(), ndimage.grey_dilation(xf, size=(1, 3, 3)))


def test_render_attributes_matches_the_definition_for_all_combinations(mnist):
    digits = mnist[1][0][:8]
    attrs = np.array(list(itertools.product((0, 1), repeat=3)), np.float32)
    bg = np.random.default_rng(6).uniform(0, 1, (8, 32, 32, 3)).astype(np.float32)
    got = render_attributes(digits, attrs, bg).numpy()
    assert got.shape == (8, 32, 32, 3) and got.dtype == np.float32
    np.testing.assert_allclose(got, _render_np(digits, attrs, bg), atol=1e-6)
    assert got.min() >= 0.0 and got.max() <= 1.0


def test_attribute_stream_resumes_exactly_and_labels_match_images(mnist):
    x = mnist[0][0][:64]
    bank = np.random.default_rng(7).uniform(0.2, 0.8, (16, 32, 32, 3)).astype(np.float32)
    fresh = [(a.numpy(), b.numpy()) for a, b in
             attribute_stream(x, batch_size=8, seed=2, backgrounds=bank).take(4)]
    later = next(iter(attribute_stream(x, batch_size=8, seed=2, start_step=2, backgrounds=bank)))
    np.testing.assert_array_equal(later[0].numpy(), fresh[2][0])
    np.testing.assert_array_equal(later[1].numpy(), fresh[2][1])
    other_seed = next(iter(attribute_stream(x, batch_size=8, seed=3, backgrounds=bank)))
    assert not np.array_equal(other_seed[0].numpy(), fresh[0][0])
    images = np.concatenate([f[0] for f in fresh])
    labels = np.concatenate([f[1] for f in fresh])
    assert images.shape == (32, 32, 32, 3) and labels.shape == (32, 3)
    assert labels.dtype == np.float32 and set(np.unique(labels)) <= {0.0, 1.0}
    assert all(0 < labels[:, j].mean() < 1 for j in range(3))  # every attribute both ways
    assert images.min() >= 0.0 and images.max() <= 1.0
    # the 2 px frame is background: 0 (plain), 1 (inverted), else a photo in (0.2, 0.8)
    frame = np.concatenate([images[:, :2].reshape(32, -1), images[:, -2:].reshape(32, -1)], 1)
    inverted, textured = labels[:, 0] == 1, labels[:, 2] == 1
    assert (frame[~textured & ~inverted] == 0).all() and (frame[~textured & inverted] == 1).all()
    assert ((frame[textured] > 0.15) & (frame[textured] < 0.85)).all()


def test_attribute_test_renders_the_given_test_digits_on_test_backgrounds(mnist):
    x_test = mnist[1][0]
    labels = np.array(list(itertools.product((0, 1), repeat=3))[1:], np.float32)[:5]
    images, attrs, bg = attribute_test(x_test, labels, n=5)
    np.testing.assert_array_equal(attrs, labels)
    assert images.shape == (5, 32, 32, 3) and bg.shape == (5, 32, 32, 3)
    np.testing.assert_allclose(images, _render_np(x_test[:5], labels, bg), atol=1e-6)
    test_bank, train_bank = background_bank("test"), background_bank("train")
    for b in bg:
        assert (test_bank == b).all(axis=(1, 2, 3)).any()
        assert not (train_bank == b).all(axis=(1, 2, 3)).any()
    _, random_attrs, _ = attribute_test(x_test, n=64, seed=1)
    assert set(np.unique(random_attrs)) == {0.0, 1.0}


# --- the metrics' floors ----------------------------------------------------------------------

class _PixelJudge:
    """A judge whose readings are a NumPy rule: attribute j is on where pixel
    (0, j) of channel 0 is > 0.5; the digit is the argmax of row 1's first
    ten pixels of channel 0."""

    def __call__(self, images, training=False):
        assert training is False
        x = np.asarray(images)
        return {"attrs": x[:, 0, :3, 0] - 0.5, "digit": x[:, 1, :10, 0]}


def test_identity_translation_scores_are_the_floors():
    """translate = identity: rec_l1 is 0, an attribute is right exactly where
    source and target agree, the digits read are the inputs' at every target,
    and the real renders' digits are read from their background rows."""
    rng = np.random.default_rng(8)
    n = 6
    src = rng.integers(0, 2, (n, 3)).astype(np.float32)
    y = np.array([0, 3, 0, 7, 5, 0])
    shown = np.where(np.arange(n) < 4, y, (y + 1) % 10)  # the last two inputs read wrong
    images = (rng.uniform(0, 0.4, (n, 32, 32, 3))).astype(np.float32)
    images[:, 0, :3, 0] = 0.1 + 0.8 * src
    images[np.arange(n), 1, shown, 0] = 1.0
    bg = rng.uniform(0, 1, (n, 32, 32, 3)).astype(np.float32)
    targets = np.array([[0, 0, 0], [1, 1, 0], [0, 1, 1]], np.float32)
    blank = np.zeros((n, 28, 28), np.uint8)  # the judge reads only the 2 px padding rows

    scores = translation_scores(lambda x, c: x, _PixelJudge(), images, src, blank, y, bg,
                                targets=targets)

    assert scores["rec_l1"] == 0.0
    agree = src[:, None, :] == targets[None, :, :]  # (input, target, attribute)
    for j, name in enumerate(ATTRIBUTES):
        assert scores["attr_acc"][name] == pytest.approx(agree[..., j].mean())
    assert scores["attr_acc_mean"] == pytest.approx(agree.mean())
    assert scores["all_attrs_acc"] == pytest.approx(agree.all(-1).mean())
    fake = np.mean(shown == y)
    for t in targets:
        inverted, _, textured = t
        # rows 0-1 are the 2 px padding: background only (0, 1, bg or 1 - bg)
        row = np.full((n, 10), inverted) if not textured else \
            (1 - bg[:, 1, :10, 0] if inverted else bg[:, 1, :10, 0])
        real = np.mean(np.argmax(row, 1) == y)
        name = "+".join(a for a, v in zip(ATTRIBUTES, t) if v) or "plain"
        assert scores["content"][name] == pytest.approx({"fake": fake, "real": real,
                                                         "gap": real - fake})
    assert scores["max_gap"] == pytest.approx(max(v["gap"] for v in scores["content"].values()))

    # every domain as a target: identity is right on half the attributes, all three 1/8
    scores = translation_scores(lambda x, c: x, _PixelJudge(), images, src, blank, y, bg,
                                reconstruct=False)
    assert scores["n_targets"] == 8 and "rec_l1" not in scores
    assert scores["attr_acc"] == {name: 0.5 for name in ATTRIBUTES}
    assert scores["all_attrs_acc"] == pytest.approx(1 / 8)


# --- training: exact resume -------------------------------------------------------------------

def _weights(nets):
    return [w.numpy() for net in nets.trackables().values() for w in net.weights]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, mnist):
    """(straight 4-step run, first session stopped after 2, weights at 2,
    resumed run)."""
    root = tmp_path_factory.mktemp("stargan_runs")
    digits = mnist[0][0][:256]
    base = dict(steps=4, seed=3, **TINY)
    straight = train(TrainConfig(run_dir=str(root / "a"), **base), x_train=digits,
                     show_progress=False)
    first = train(TrainConfig(run_dir=str(root / "b"), **base), x_train=digits,
                  show_progress=False, stop_after=2)
    at_2 = _weights(first.nets)
    resumed = train(TrainConfig(run_dir=str(root / "b"), **base), x_train=digits,
                    show_progress=False)
    return straight, first, at_2, resumed


def test_interrupted_and_resumed_equals_uninterrupted(runs):
    straight, first, at_2, resumed = runs
    assert [h["step"] for h in first.history] == [1, 2]
    assert resumed.start_step == 2 and [h["step"] for h in resumed.history] == [1, 2, 3, 4]
    assert [h["step"] for h in straight.history] == [1, 2, 3, 4]
    for a, b in zip(straight.history, resumed.history):
        assert {k: v for k, v in a.items() if k != "seconds"} == \
            {k: v for k, v in b.items() if k != "seconds"}
    assert {"d_adv", "d_cls", "d_gp", "g_adv", "g_cls", "g_rec"} <= set(straight.history[-1])
    moved = 0
    for a, b, w2 in zip(_weights(straight.nets), _weights(resumed.nets), at_2):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
        moved += not np.array_equal(w2, b)
    assert moved > len(at_2) // 2  # steps 3-4 trained: the comparison is not of idle weights


# --- the translate CLI ------------------------------------------------------------------------

def _grey_png(path, size=32):
    digit = load_mnist()[1][0][0]
    img = np.pad(digit, 2) if size == 32 else digit[:size, :size]
    Image.fromarray(img).save(path)
    return path


def _translate(run, src, dst, attrs="inverted=1,bold=0,textured=0"):
    return cli(["translate", "--run", str(run), "--input", str(src), "--output", str(dst),
                "--attrs", attrs])


def _one_error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    return lines[0]


def test_translate_bad_inputs_are_one_clear_line(runs, tmp_path, capsys):
    run = runs[0].run_dir
    good = _grey_png(tmp_path / "digit.png")
    out = tmp_path / "out.png"

    assert _translate(run, good, out, "smile=1,bold=0") == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "--attrs" in line and "smile" in line
    assert all(name in line for name in ATTRIBUTES)

    small = _grey_png(tmp_path / "small.png", size=28)
    assert _translate(run, small, out) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert str(small) in line and "32x32" in line and "28x28" in line

    rgba = tmp_path / "rgba.png"
    Image.fromarray(np.zeros((32, 32, 4), np.uint8), "RGBA").save(rgba)
    assert _translate(run, rgba, out) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert str(rgba) in line and "channels" in line and "4" in line
    assert not out.exists()


def test_translate_writes_marked_images_and_never_replaces(runs, tmp_path, capsys):
    run = runs[0].run_dir
    src = _grey_png(tmp_path / "digit.png")
    out = tmp_path / "out.png"
    assert _translate(run, src, out) == 0
    capsys.readouterr()
    with Image.open(out) as img:
        assert img.size == (32, 32) and img.mode == "RGB"
    meta = read_provenance(out)
    assert meta["AI-Generated"] == "true" and meta["Generator"] == "stargan"
    assert meta["Parameters"]["attrs"] == {"inverted": 1.0, "bold": 0.0, "textured": 0.0}
    before = out.read_bytes()
    assert _translate(run, src, out, "inverted=0,bold=1,textured=1") == 0
    assert out.read_bytes() == before
    second = tmp_path / "out_1.png"
    assert second.is_file() and read_provenance(second)["AI-Generated"] == "true"
    assert read_provenance(second)["Parameters"]["attrs"]["bold"] == 1.0


def test_train_help_names_every_flag(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli(["train", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    flags = {"--" + f.name.replace("_", "-") for f in dataclasses.fields(TrainConfig)
             if f.name != "run_dir"}
    # the options, spelled out (not derived from the code)
    flags |= {"--run", "--data", "--lambda-gp", "--lambda-cls", "--lambda-rec", "--n-critic",
              "--image-size", "--g-repeat-num", "--d-repeat-num", "--batch-size", "--steps"}
    missing = sorted(f for f in flags if f not in out)
    assert not missing, missing
