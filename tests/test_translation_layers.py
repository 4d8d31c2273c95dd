"""Shared layers and losses of pix2pix/CycleGAN, checked against NumPy and
the papers' definitions."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from core.image_pool import ImagePool
from core.layers import InstanceNormalization, ReflectionPadding2D
from core.patchgan import patchgan_discriminator, patchgan_receptive_field
from cyclegan import (
    cycle_loss,
    identity_loss,
    l1_loss,
    resnet_generator,
    unet_generator,
)
from cyclegan.infer import required_multiple
from cyclegan.train import LinearDecay


def test_instance_norm_matches_numpy(rng):
    x = rng.normal(3.0, 2.0, size=(2, 5, 7, 4)).astype(np.float32)
    layer = InstanceNormalization(epsilon=1e-5)
    layer.build(x.shape)
    gamma, beta = rng.normal(size=4).astype(np.float32), rng.normal(size=4).astype(np.float32)
    layer.set_weights([gamma, beta])
    mean = x.mean(axis=(1, 2), keepdims=True)
    var = x.var(axis=(1, 2), keepdims=True)
    expected = (x - mean) / np.sqrt(var + 1e-5) * gamma + beta
    np.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-4, atol=1e-4)
    # each sample on its own: the other sample does not change the result
    np.testing.assert_allclose(layer(x[:1]).numpy(), expected[:1], rtol=1e-4, atol=1e-4)


def test_instance_norm_statistics_are_float32_under_bf16():
    """Values near 1000 on a grid of 4 (exact in bf16, whose spacing there is 4):
    their mean (1002) and variance (20) are not representable in bf16, so
    statistics computed in bf16 would be off by up to 2/sqrt(20) = 0.45 after
    normalising; computed in float32 only the output's bf16 rounding remains."""
    pattern = np.array([996.0, 1000.0, 1004.0, 1008.0], np.float32)
    x = np.tile(pattern, 16).reshape(1, 8, 8, 1).repeat(2, axis=-1)
    x[..., 1] = x[..., 1] - 992.0  # a second channel with small values: per-channel stats
    layer = InstanceNormalization(dtype="mixed_bfloat16")
    layer.build(x.shape)
    layer.set_weights([np.ones(2, np.float32), np.zeros(2, np.float32)])
    y = layer(tf.constant(x, tf.bfloat16))
    assert y.dtype == tf.bfloat16
    x64 = x.astype(np.float64)
    mean, var = x64.mean(axis=(1, 2), keepdims=True), x64.var(axis=(1, 2), keepdims=True)
    expected = (x64 - mean) / np.sqrt(var + 1e-5)  # +-0.447, +-1.342
    # bf16 keeps 8 significant bits: the output's rounding is at most 2^-8 relative
    np.testing.assert_allclose(tf.cast(y, tf.float64).numpy(), expected, rtol=2 ** -8, atol=0)


def test_instance_norm_checkpoint_layout_and_init():
    """What checkpoints and saved models of the layer rely on: variables
    ``gamma``, ``beta`` of shape (C,) in that order, a config of ``epsilon``,
    and gamma drawn from normal(1, 0.02)."""
    layer = InstanceNormalization(name="norm")
    layer.build((None, None, None, 4096))
    assert [(v.path, tuple(v.shape)) for v in layer.weights] == [("norm/gamma", (4096,)),
                                                                 ("norm/beta", (4096,))]
    config = layer.get_config()
    assert {k: config[k] for k in ("name", "epsilon")} == {"name": "norm", "epsilon": 1e-5}
    assert set(config) == {"name", "trainable", "dtype", "epsilon"}
    again = InstanceNormalization.from_config({"name": "n", "trainable": True, "epsilon": 1e-3})
    assert again.epsilon == 1e-3
    gamma = layer.gamma.numpy()
    assert abs(gamma.mean() - 1.0) < 2e-3 and abs(gamma.std() - 0.02) < 2e-3
    assert not layer.beta.numpy().any()


def test_reflection_padding_matches_numpy(rng):
    x = rng.normal(size=(1, 4, 5, 2)).astype(np.float32)
    expected = np.pad(x, [(0, 0), (2, 2), (2, 2), (0, 0)], mode="reflect")
    np.testing.assert_array_equal(ReflectionPadding2D(2)(x).numpy(), expected)


def test_patchgan_output_grid_and_receptive_field():
    assert patchgan_receptive_field(3) == 70
    d = patchgan_discriminator(3, ndf=8)
    assert d(tf.zeros([1, 256, 256, 3])).shape == (1, 30, 30, 1)  # the tutorial's 30x30
    # the receptive field measured, not computed: pixels that move one logit
    # (without instance norm, whose statistics couple every pixel)
    plain = patchgan_discriminator(3, ndf=8, norm="none")
    x = tf.Variable(tf.random.normal([1, 128, 128, 3]))
    with tf.GradientTape() as tape:
        out = plain(x)
        logit = out[0, 7, 7, 0]
    grad = np.abs(tape.gradient(logit, x).numpy()[0]).sum(-1)
    rows, cols = np.nonzero(grad)
    assert rows.max() - rows.min() + 1 == 70 and cols.max() - cols.min() + 1 == 70


def test_conditional_patchgan_takes_two_images():
    d = patchgan_discriminator(3, ndf=8, condition_channels=3)
    assert d([tf.zeros([2, 64, 64, 3]), tf.zeros([2, 64, 64, 3])]).shape == (2, 6, 6, 1)


def test_unet_shapes_skips_and_dropout():
    g = unet_generator(ngf=8, num_downs=5)
    assert required_multiple(g) == 32
    x = tf.random.uniform([2, 32, 32, 3], -1, 1)
    y = g(x, training=False)
    assert y.shape == (2, 32, 32, 3) and float(tf.reduce_max(tf.abs(y))) <= 1.0
    np.testing.assert_array_equal(y.numpy(), g(x, training=False).numpy())  # no dropout
    assert not np.array_equal(g(x, training=True).numpy(), g(x, training=True).numpy())
    assert sum(isinstance(layer, tf.keras.layers.Dropout) for layer in g.layers) == 3
    assert sum(isinstance(layer, tf.keras.layers.Concatenate) for layer in g.layers) == 4
    names = {layer.name for layer in g.layers}  # no norm outermost, nor on the 1x1 bottleneck
    assert {"down2_norm", "down4_norm"} <= names and not {"down1_norm", "down5_norm"} & names


@pytest.mark.parametrize("blocks", [6, 9])
def test_resnet_generator_blocks_and_padding(blocks):
    g = resnet_generator(ngf=8, n_blocks=blocks)
    assert required_multiple(g) == 4
    assert sum(layer.name.endswith("_conv1") for layer in g.layers) == blocks
    assert any(isinstance(layer, ReflectionPadding2D) for layer in g.layers)
    assert g(tf.zeros([1, 36, 44, 3])).shape == (1, 36, 44, 3)


def test_weights_start_normal_0_002():
    g = unet_generator(ngf=16, num_downs=5)
    kernel = g.get_layer("down4").kernel.numpy()  # 4*4*64*128 = 131,072 weights
    assert abs(kernel.mean()) < 1e-3 and abs(kernel.std() - 0.02) < 1e-3


def test_losses_match_definitions(rng):
    a = rng.uniform(-1, 1, size=(2, 8, 8, 3)).astype(np.float32)
    b = rng.uniform(-1, 1, size=(2, 8, 8, 3)).astype(np.float32)
    l1 = np.abs(a - b).mean()
    assert float(l1_loss(a, b)) == pytest.approx(l1, rel=1e-5)
    assert float(cycle_loss(a, b)) == pytest.approx(10 * l1, rel=1e-5)
    assert float(identity_loss(a, b)) == pytest.approx(5 * l1, rel=1e-5)


def test_linear_decay_schedule():
    s = LinearDecay(2e-4, total=200, decay=100)
    assert float(s(0)) == pytest.approx(2e-4)
    assert float(s(100)) == pytest.approx(2e-4)
    assert float(s(150)) == pytest.approx(1e-4)
    assert float(s(200)) == pytest.approx(0.0)
    assert float(LinearDecay(1e-3, 10, 0)(9)) == pytest.approx(1e-3)


def _reference_pool(size, queries, coins, slots):
    """junyanz's ImagePool.query, one image at a time, with given random draws."""
    pool, out = [], []
    for images, c, s in zip(queries, coins, slots):
        batch = []
        for img, ci, si in zip(images, c, s):
            if len(pool) < size:
                pool.append(img)
                batch.append(img)
            elif ci > 0.5:
                batch.append(pool[si].copy())
                pool[si] = img
            else:
                batch.append(img)
        out.append(np.stack(batch))
    return out


def test_image_pool_matches_reference_and_checkpoints(tmp_path, rng):
    size, n = 3, 2
    pool = ImagePool(size, (4, 4, 1))
    query = tf.function(pool.query)
    queries = [rng.normal(size=(n, 4, 4, 1)).astype(np.float32) for _ in range(6)]
    keys = [tf.constant([9, k], tf.int64) for k in range(6)]
    coins = [tf.random.stateless_uniform([n], k).numpy() for k in keys]
    slots = [tf.random.stateless_uniform([n], k + 1, maxval=size, dtype=tf.int32).numpy()
             for k in keys]
    expected = _reference_pool(size, queries, coins, slots)
    ckpt = tf.train.Checkpoint(pool=pool)
    for i, (q, k) in enumerate(zip(queries, keys)):
        np.testing.assert_array_equal(query(tf.constant(q), k).numpy(), expected[i])
        if i == 2:
            path = ckpt.write(str(tmp_path / "pool"))
            state = pool.images.numpy().copy()
    assert any((c > 0.5).any() for c in coins[2:])  # the swap branch was exercised
    restored = ImagePool(size, (4, 4, 1))
    tf.train.Checkpoint(pool=restored).read(path).assert_consumed()
    np.testing.assert_array_equal(restored.images.numpy(), state)
    assert int(restored.count.numpy()) == size


def test_empty_pool_passes_through():
    x = tf.random.normal([2, 4, 4, 3])
    np.testing.assert_array_equal(ImagePool(0, (4, 4, 3)).query(x, tf.constant([0, 0], tf.int64)),
                                  x.numpy())


def test_fused_adam_uses_keras_internals_that_exist(monkeypatch):
    """FusedAdam reads Keras's private slot lists; fail loudly (with the way
    out) when a Keras upgrade renames them."""
    import keras

    from core.optim import FusedAdam

    var = tf.Variable(tf.zeros([3]))
    opt = FusedAdam(learning_rate=0.1)
    opt.build([var])
    message = (f"keras {keras.__version__} changed Adam's internals that core/optim.py "
               "reads; pin keras==3.15.1 (requirements.txt) or update FusedAdam")
    for name in ("_momentums", "_velocities", "_get_variable_index"):
        assert hasattr(opt, name), f"{message}: no Adam.{name}"
    index = opt._get_variable_index(var)
    assert tuple(opt._momentums[index].shape) == (3,), message
    assert tuple(opt._velocities[index].shape) == (3,), message
    # a Keras whose Adam keeps its slots elsewhere: FusedAdam refuses to build
    monkeypatch.setattr(keras.optimizers.Adam, "build", lambda self, variables: None)
    with pytest.raises(RuntimeError, match=r"_momentums, _velocities.*keras==3\.15\.1"):
        FusedAdam().build([var])


def test_fused_adam_matches_the_adam_formula_and_keras_adam(rng):
    import keras

    from core.optim import FusedAdam

    w0 = rng.normal(size=(5, 3)).astype(np.float32)
    grads = [rng.normal(size=(5, 3)).astype(np.float32) for _ in range(4)]
    settings = dict(learning_rate=0.01, beta_1=0.5, beta_2=0.999, epsilon=1e-7)
    var, ref = tf.Variable(w0), tf.Variable(w0)
    opt, keras_opt = FusedAdam(**settings), keras.optimizers.Adam(**settings)
    step = tf.function(lambda g: opt.apply_gradients([(g, var)]))
    keras_step = tf.function(lambda g: keras_opt.apply_gradients([(g, ref)]))
    w, m, v = w0.astype(np.float64), np.zeros_like(w0, np.float64), np.zeros_like(w0, np.float64)
    for t, g in enumerate(grads, start=1):  # Kingma & Ba, Keras's epsilon placement
        m = 0.5 * m + 0.5 * g
        v = 0.999 * v + 0.001 * g * g
        alpha = 0.01 * np.sqrt(1 - 0.999 ** t) / (1 - 0.5 ** t)
        w = w - alpha * m / (np.sqrt(v) + 1e-7)
        step(tf.constant(g))
        keras_step(tf.constant(g))
        np.testing.assert_allclose(var.numpy(), w, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(var.numpy(), ref.numpy(), rtol=1e-5, atol=1e-6)
    assert int(opt.iterations.numpy()) == 4
    # the same slots as Keras's Adam (checkpoints interchange)
    def slots(o):
        return [s.path.split("/", 1)[1] for s in o.variables]  # without the optimizer's name

    assert slots(opt) == slots(keras_opt)
    for ours, theirs in zip(opt.variables, keras_opt.variables):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-6)


def test_bf16_supported_reads_the_cpu_flags(tmp_path, monkeypatch):
    from core.precision import bf16_supported, cpu_flags

    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])  # no GPU

    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 fma avx512f\n"
                    "bugs\t\t: avx512_bf16_is_not_a_flag_here\n")
    assert not bf16_supported(info)  # only the flags line counts
    assert cpu_flags(info) == {"fpu", "sse2", "avx2", "fma", "avx512f"}
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512_bf16\n")
    assert bf16_supported(info)
    info.write_text("flags\t\t: fpu amx_bf16 amx_tile\n")
    assert bf16_supported(info)
    assert not bf16_supported(tmp_path / "missing") and cpu_flags(tmp_path / "missing") == set()
