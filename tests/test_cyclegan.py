"""pix2pix and CycleGAN: the train steps (against the tutorial's
formulation), exact resume, tf.distribute, inference at any size, SavedModel
export, metrics and the CLI."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from core.gan_losses import generator_loss
from core.image_pool import ImagePool
from core.loop import set_seed
from cyclegan import (
    TrainConfig,
    build_nets,
    export_generator,
    load_exported,
    run_generator,
    train,
    translate_folder,
)
from cyclegan.__main__ import main as cli
from cyclegan.losses import cycle_loss, identity_loss
from cyclegan.metrics import cyclegan_scores, dark_stroke, paired_scores
from cyclegan.train import _optimizer, make_cyclegan_step
from data import read_provenance, save_image
from data.mnist import load_mnist

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(ngf=8, ndf=8, batch_size=2, pool_size=3, log_every=1, sample_every=2,
            checkpoint_every=2)


@pytest.fixture(scope="module")
def digits():
    (x, _), _ = load_mnist()
    return x[:512]


def _weights(nets):
    return [w.numpy() for net in nets.trackables().values() for w in net.weights]


def test_joint_generator_gradient_equals_the_tutorials_per_generator_gradients():
    """The step's single backward pass gives G and F exactly the gradients of
    the tutorial's total_gen_g_loss and total_gen_f_loss."""
    config = TrainConfig(generator="resnet6", gan_loss="bce", **TINY)
    nets = build_nets(config)
    G, F, D_A, D_B = nets.g, nets.f, nets.d_a, nets.d_b
    x = tf.random.uniform([2, 32, 32, 3], -1, 1, seed=1)
    y = tf.random.uniform([2, 32, 32, 3], -1, 1, seed=2)
    with tf.GradientTape(persistent=True) as tape:
        fake_y, fake_x = G(x, training=True), F(y, training=True)
        cycled_x, cycled_y = F(fake_y, training=True), G(fake_x, training=True)
        same_x, same_y = F(x, training=True), G(y, training=True)
        cyc = cycle_loss(x, cycled_x) + cycle_loss(y, cycled_y)
        adv_g = generator_loss(D_B(fake_y, training=True), "bce")
        adv_f = generator_loss(D_A(fake_x, training=True), "bce")
        total_g = adv_g + cyc + identity_loss(y, same_y)  # the tutorial's two losses
        total_f = adv_f + cyc + identity_loss(x, same_x)
        joint = adv_g + adv_f + cyc + identity_loss(y, same_y) + identity_loss(x, same_x)
    for net, own in ((G, total_g), (F, total_f)):
        for a, b in zip(tape.gradient(own, net.trainable_variables),
                        tape.gradient(joint, net.trainable_variables)):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-7)


def test_cyclegan_step_updates_all_four_networks_and_the_pools():
    config = TrainConfig(**TINY)
    nets = build_nets(config)
    before = _weights(nets)
    g_opt = _optimizer(config, nets.generator_variables)
    d_opt = _optimizer(config, nets.discriminator_variables)
    pools = (ImagePool(3, (32, 32, 3)), ImagePool(3, (32, 32, 3)))
    step = make_cyclegan_step(nets, g_opt, d_opt, pools, tf.distribute.get_strategy(), seed=0)
    batch = (tf.random.uniform([2, 32, 32, 3]), tf.random.uniform([2, 32, 32, 3]))
    out = step(batch, tf.constant(0, tf.int64))
    assert set(out) == {"g_adv", "f_adv", "cycle", "identity", "d_a", "d_b"}
    assert all(np.isfinite(float(v)) for v in out.values())
    moved = [not np.array_equal(a, b) for a, b in zip(before, _weights(nets))]
    assert sum(moved) > 0.9 * len(moved)  # weights of all four networks (not norm betas at 0 grads)
    assert int(pools[0].count.numpy()) == 2 and int(pools[1].count.numpy()) == 2


def test_forward_and_backward_cycles_are_weighted_apart():
    """``cycle`` = 10 |a - F(G(a))|_1 + 10 s |b - G(F(b))|_1 (the paper's two
    cycle terms, junyanz's lambda_A and lambda_B), computed here by hand."""
    config = TrainConfig(generator="resnet6", **TINY)
    set_seed(0)
    nets = build_nets(config)
    a = tf.random.uniform([2, 32, 32, 3], seed=3)
    b = tf.random.uniform([2, 32, 32, 3], seed=4)
    na, nb = a * 2 - 1, b * 2 - 1
    fwd = np.abs(na - nets.f(nets.g(na, training=True), training=True)).mean()
    bwd = np.abs(nb - nets.g(nets.f(nb, training=True), training=True)).mean()
    idt_f = np.abs(na - nets.f(na, training=True)).mean()
    idt_g = np.abs(nb - nets.g(nb, training=True)).mean()
    g_opt = _optimizer(config, nets.generator_variables)
    d_opt = _optimizer(config, nets.discriminator_variables)
    pools = (ImagePool(3, (32, 32, 3)), ImagePool(3, (32, 32, 3)))
    step = make_cyclegan_step(nets, g_opt, d_opt, pools, tf.distribute.get_strategy(), seed=0,
                              cycle_weight=10.0, backward_cycle_scale=0.25)
    out = step((a, b), tf.constant(0, tf.int64))
    np.testing.assert_allclose(float(out["cycle"]), 10 * fwd + 2.5 * bwd, rtol=1e-4)
    # junyanz: idt_A = |G_A(B) - B| * lambda_B * 0.5, idt_B = |G_B(A) - A| * lambda_A * 0.5
    np.testing.assert_allclose(float(out["identity"]), 10 * 0.5 * idt_f + 2.5 * 0.5 * idt_g,
                               rtol=1e-4)


def test_cyclegan_step_applies_the_tutorials_generator_gradients():
    """With plain SGD (lr 1), one step moves G and F by exactly minus the
    gradients of the tutorial's total_gen_g_loss and total_gen_f_loss (BCE,
    cycle weight 10, identity 5), computed here on the same weights."""
    config = TrainConfig(generator="resnet6", gan_loss="bce", **TINY)
    set_seed(0)
    nets = build_nets(config)
    G, F, D_A, D_B = nets.g, nets.f, nets.d_a, nets.d_b
    a = tf.random.uniform([2, 32, 32, 3], seed=5)
    b = tf.random.uniform([2, 32, 32, 3], seed=6)
    x, y = a * 2 - 1, b * 2 - 1
    bce = tf.keras.losses.BinaryCrossentropy(from_logits=True)
    with tf.GradientTape(persistent=True) as tape:
        fake_y, fake_x = G(x, training=True), F(y, training=True)
        cycled_x, cycled_y = F(fake_y, training=True), G(fake_x, training=True)
        same_x, same_y = F(x, training=True), G(y, training=True)
        total_cycle = 10 * (tf.reduce_mean(tf.abs(x - cycled_x))
                            + tf.reduce_mean(tf.abs(y - cycled_y)))
        disc_fake_y, disc_fake_x = D_B(fake_y, training=True), D_A(fake_x, training=True)
        total_g = (bce(tf.ones_like(disc_fake_y), disc_fake_y) + total_cycle
                   + 5 * tf.reduce_mean(tf.abs(y - same_y)))
        total_f = (bce(tf.ones_like(disc_fake_x), disc_fake_x) + total_cycle
                   + 5 * tf.reduce_mean(tf.abs(x - same_x)))
    before = [v.numpy() for net in (G, F) for v in net.trainable_variables]
    expected = [-g.numpy() for net, loss in ((G, total_g), (F, total_f))
                for g in tape.gradient(loss, net.trainable_variables)]
    g_opt = tf.keras.optimizers.SGD(learning_rate=1.0)
    d_opt = tf.keras.optimizers.SGD(learning_rate=1.0)
    pools = (ImagePool(3, (32, 32, 3)), ImagePool(3, (32, 32, 3)))
    step = make_cyclegan_step(nets, g_opt, d_opt, pools, tf.distribute.get_strategy(), seed=0,
                              gan_loss="bce")
    step((a, b), tf.constant(0, tf.int64))
    moved = [v.numpy() - w for v, w in zip((v for net in (G, F) for v in net.trainable_variables),
                                           before)]
    assert len(moved) == len(expected)
    for got, want in zip(moved, expected):  # the update itself, at the gradients' scale
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3 * np.abs(want).max() + 1e-7)


def test_one_training_step_moves_every_network(tmp_path, digits):
    config = TrainConfig(run_dir=str(tmp_path / "r"), steps=1, **TINY)
    set_seed(config.seed)  # train() seeds the same way: same initial weights
    initial = build_nets(config)
    result = train(config, x_train=digits, show_progress=False)
    for name, net in result.nets.trackables().items():
        start = initial.trackables()[name]
        changed = [not np.array_equal(a.numpy(), b.numpy())
                   for a, b in zip(net.trainable_weights, start.trainable_weights)]
        assert all(changed), f"{name}: {changed.count(False)} weights did not move"


@pytest.mark.parametrize("model,data", [("cyclegan", "mnist_mnistm"),
                                        ("pix2pix", "mnistm_to_mnist")])
def test_interrupted_and_resumed_equals_uninterrupted(tmp_path, digits, model, data):
    base = dict(model=model, data=data, steps=4, seed=5, **TINY)
    straight = train(TrainConfig(run_dir=str(tmp_path / "a"), **base), x_train=digits,
                     show_progress=False)
    first = train(TrainConfig(run_dir=str(tmp_path / "b"), **base), x_train=digits,
                  show_progress=False, stop_after=3)
    assert first.history[-1]["step"] == 3
    resumed = train(TrainConfig(run_dir=str(tmp_path / "b"), **base), x_train=digits,
                    show_progress=False)
    assert resumed.start_step == 3 and [h["step"] for h in resumed.history] == [1, 2, 3, 4]
    for a, b in zip(straight.history, resumed.history):
        assert {k: v for k, v in a.items() if k != "seconds"} == \
            {k: v for k, v in b.items() if k != "seconds"}
    for a, b in zip(_weights(straight.nets), _weights(resumed.nets)):
        np.testing.assert_array_equal(a, b)


def test_run_folder_options_and_guards(tmp_path, digits):
    run = tmp_path / "run"
    config = TrainConfig(run_dir=str(run), steps=2, **TINY)
    train(config, x_train=digits, show_progress=False)
    options = json.loads((run / "options.json").read_text())
    assert options["model"] == "cyclegan" and options["pool_size"] == 3
    assert list((run / "logs").iterdir())
    sample = sorted((run / "samples").glob("*.png"))[-1]
    assert read_provenance(sample)["AI-Generated"] == "true"
    with pytest.raises(ValueError, match=r"cannot resume, options differ .*ngf"):
        train(dataclasses.replace(config, steps=3, ngf=16), x_train=digits, show_progress=False)
    # a run written before an option existed resumes at that option's default only
    del options["backward_cycle_scale"]
    (run / "options.json").write_text(json.dumps(options))
    assert train(dataclasses.replace(config, steps=3), x_train=digits,
                 show_progress=False).start_step == 2
    with pytest.raises(ValueError, match=r"options differ .*backward_cycle_scale: 1.0 -> 0.5"):
        train(dataclasses.replace(config, steps=4, backward_cycle_scale=0.5), x_train=digits,
              show_progress=False)
    for f in (run / "checkpoints").glob("ckpt-3.data-*"):
        f.write_bytes(b"garbage" * 10)
    with pytest.raises(ValueError, match="ckpt-3"):
        train(dataclasses.replace(config, steps=4), x_train=digits, show_progress=False)


def test_bad_config_values_are_named(monkeypatch):
    assert TrainConfig().gan_loss == "lsgan" and TrainConfig(model="pix2pix").gan_loss == "bce"
    with pytest.raises(ValueError, match="generator must be one of"):
        TrainConfig(generator="resnet12")
    with pytest.raises(ValueError, match="image_size must be a power of two"):
        TrainConfig(image_size=48)
    with pytest.raises(ValueError, match="image_size must be a multiple of 4"):
        TrainConfig(generator="resnet9", image_size=30)
    with pytest.raises(ValueError, match="data='mnist_mnistm' is 32 px"):
        train(TrainConfig(image_size=64), show_progress=False)
    assert TrainConfig().data == "mnist_mnistm"
    assert TrainConfig(model="pix2pix").data == "mnistm_to_mnist"
    with pytest.raises(ValueError, match="data must be a paired set for pix2pix"):
        TrainConfig(model="pix2pix", data="photo_painting")
    with pytest.raises(ValueError, match="data must be a paired set .*aligned A\\|B"):
        TrainConfig(model="pix2pix", data="tfds:horse2zebra")
    assert TrainConfig(model="pix2pix", data="mnist_mnistm").data == "mnist_mnistm"
    with pytest.raises(ValueError, match="precision must be one of"):
        TrainConfig(precision="fp8")
    # precision="auto" follows what the hardware offers, an explicit choice wins
    for native, expected in ((True, "bf16"), (False, "float32")):
        monkeypatch.setattr(sys.modules["cyclegan.train"], "bf16_supported",
                            lambda native=native: native)
        assert TrainConfig().precision == expected
        assert TrainConfig(precision="float32").precision == "float32"


MIRRORED = textwrap.dedent("""
    import sys
    sys.path.insert(0, {root!r})
    import numpy as np, tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from cyclegan import TrainConfig, train
    from core.loop import get_strategy
    from data.mnist import load_mnist
    (x, _), _ = load_mnist()
    strategy = get_strategy("mirrored")
    base = dict(steps=3, ngf=8, ndf=8, batch_size=4, pool_size=0, strategy="mirrored",
                log_every=1, sample_every=3, checkpoint_every=1)
    straight = train(TrainConfig(run_dir={run!r} + "/a", **base), x_train=x[:256],
                     strategy=strategy, show_progress=False)
    train(TrainConfig(run_dir={run!r} + "/b", **base), x_train=x[:256], strategy=strategy,
          show_progress=False, stop_after=2)
    resumed = train(TrainConfig(run_dir={run!r} + "/b", **base), x_train=x[:256],
                    strategy=strategy, show_progress=False)
    print("REPLICAS", strategy.num_replicas_in_sync)
    assert resumed.start_step == 2
    assert all(np.isfinite(v) for h in straight.history for v in h.values())
    same = all(np.array_equal(a.numpy(), b.numpy())
               for n in ("g", "f", "d_a", "d_b")
               for a, b in zip(getattr(straight.nets, n).weights, getattr(resumed.nets, n).weights))
    print("RESUME_EXACT", same)
    # with history pools each replica keeps its own; a resume restores replica 0's
    import warnings
    pooled = dict(base, pool_size=2)
    train(TrainConfig(run_dir={run!r} + "/c", **pooled), x_train=x[:256], strategy=strategy,
          show_progress=False, stop_after=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pool_run = train(TrainConfig(run_dir={run!r} + "/c", **pooled), x_train=x[:256],
                         strategy=strategy, show_progress=False)
    assert pool_run.start_step == 2 and pool_run.history
    print("POOL_HISTORY", pool_run.history[-1])
    assert all(np.isfinite(v) for h in pool_run.history for v in h.values())
    print("POOL_WARNED", any("replica 0's image pool" in str(w.message) for w in caught))
""")


def test_mirrored_strategy_on_two_logical_cpus(tmp_path):
    code = MIRRORED.format(root=str(ROOT), run=str(tmp_path / "mirrored"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "REPLICAS 2" in out.stdout
    assert "RESUME_EXACT True" in out.stdout
    assert "POOL_WARNED True" in out.stdout


def test_inference_at_any_size_and_savedmodel_round_trip(tmp_path):
    config = TrainConfig(**TINY)
    g = build_nets(config).g
    x = np.random.default_rng(0).uniform(size=(1, 37, 45, 3)).astype(np.float32)
    y = run_generator(g, x)
    assert y.shape == x.shape and 0.0 <= y.min() and y.max() <= 1.0
    # at a size the network accepts, no padding: exactly the network's output
    z = np.random.default_rng(1).uniform(size=(2, 64, 32, 3)).astype(np.float32)
    direct = (g(z * 2 - 1, training=False).numpy() + 1) / 2
    np.testing.assert_allclose(run_generator(g, z), np.clip(direct, 0, 1), atol=1e-6)
    assert run_generator(g, x[0]).shape == x.shape[1:]
    path = export_generator(g, tmp_path / "exported")
    loaded = load_exported(path)
    np.testing.assert_allclose(loaded.translate(tf.constant(x)).numpy(), y, atol=1e-5)
    with pytest.raises(ValueError, match="not a SavedModel"):
        load_exported(tmp_path)
    with pytest.raises(ValueError, match=r"\(B, H, W, 3\)"):
        run_generator(g, np.zeros((2, 8, 8), np.float32))


def test_translate_folder_marks_outputs_synthetic(tmp_path):
    g = build_nets(TrainConfig(**TINY)).g
    src = tmp_path / "in"
    save_image(src / "one.png", np.full((20, 30, 3), 0.5, np.float32), generator="test")
    written = translate_folder(g, src, tmp_path / "out", params={"run": "test"})
    assert [p.name for p in written] == ["one.png"]
    meta = read_provenance(written[0])
    assert meta["AI-Generated"] == "true" and meta["Parameters"]["source"] == "one.png"
    # a second "one" (as JPEG) must not overwrite the first; big images are bounded
    from PIL import Image
    Image.fromarray(np.zeros((40, 64, 3), np.uint8)).save(src / "one.jpg")
    save_image(src / "one_jpg.png", np.zeros((8, 8, 3), np.float32), generator="test")
    written = translate_folder(g, src, tmp_path / "out2", max_side=32)
    assert sorted(p.name for p in written) == ["one_jpg.png", "one_jpg_1.png", "one_png.png"]
    assert len({read_provenance(p)["Parameters"]["source"] for p in written}) == 3
    with Image.open(tmp_path / "out2" / "one_jpg.png") as im:
        assert im.size == (32, 20)
    with Image.open(tmp_path / "out2" / "one_png.png") as im:
        assert im.size == (30, 20)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no images"):
        translate_folder(g, tmp_path / "empty", tmp_path / "x")
    with pytest.raises(ValueError, match="not a folder"):
        translate_folder(g, tmp_path / "missing", tmp_path / "x")


def test_paired_scores_match_definitions(rng):
    t = rng.uniform(size=(2, 16, 16, 3)).astype(np.float32)
    p = np.clip(t + rng.normal(0, 0.05, size=t.shape), 0, 1).astype(np.float32)
    s = paired_scores(p, t)
    mse = ((p - t) ** 2).reshape(2, -1).mean(1)
    assert s["l1"] == pytest.approx(np.abs(p - t).mean(), rel=1e-5)
    assert s["psnr"] == pytest.approx(np.mean(10 * np.log10(1.0 / mse)), rel=1e-4)
    assert paired_scores(t, t)["ssim"] == pytest.approx(1.0, abs=1e-5)
    assert s["ssim"] < 1.0
    with pytest.raises(ValueError, match="shapes differ"):
        paired_scores(p[:1], t)


def test_stroke_polarity_splits_f_and_counts_gs_dark_strokes():
    digits = np.zeros((4, 8, 8, 3), np.float32)
    digits[:, 2:6, 3:5] = 1.0                       # a bar: 8 stroke pixels of 64
    back = np.array([0.9, 0.8, 0.1, 0.3], np.float32)[:, None, None, None]
    renders = np.abs(back - digits)                 # MNIST-M's |photo - digit|
    np.testing.assert_array_equal(dark_stroke(renders, digits), [True, True, False, False])
    # colour: brightness is the channel mean (stroke (0.9, 0.0, 0.0) on grey 0.5 is dark)
    img = np.full((1, 8, 8, 3), 0.5, np.float32)
    img[:, 2:6, 3:5] = [0.9, 0.0, 0.0]
    assert dark_stroke(img, digits[:1])[0]

    def always_zero(x, training=False):               # reads every image as the digit 0
        n = x.shape[0]
        return {"digit": tf.one_hot(tf.zeros([n], tf.int32), 10),
                "domain": tf.one_hot(tf.zeros([n], tf.int32), 2)}
    labels = np.array([0, 0, 0, 1])                   # renders 0, 1 dark; 2, 3 light
    s = cyclegan_scores(lambda x: 1.0 - x, lambda x: x, always_zero, digits, renders, labels)
    assert s["f_class"] == pytest.approx(0.75)
    assert s["f_class_dark"] == pytest.approx(1.0) and s["f_class_light"] == pytest.approx(0.5)
    assert s["real_dark_rate"] == pytest.approx(0.5)
    assert s["g_dark_rate"] == pytest.approx(1.0)     # 1 - digit: black bar on white


def test_cli_pix2pix_train_evaluate_translate_export(tmp_path, capsys):
    run = str(tmp_path / "p2p")
    args = ["train", "--run", run, "--model", "pix2pix", "--data", "mnistm_to_mnist",
            "--gan-loss", "bce", "--steps", "2", "--ngf", "8", "--ndf", "8", "--batch-size", "2",
            "--quiet"]
    assert cli(args) == 0
    assert cli(["evaluate", "--run", run, "-n", "40", "--json", str(tmp_path / "e.json")]) == 0
    scores = json.loads((tmp_path / "e.json").read_text())["scores"]
    assert set(scores) == {"model", "untrained", "identity"}
    assert set(scores["model"]) == {"l1", "psnr", "ssim"}
    src = tmp_path / "in"
    save_image(src / "a.png", np.zeros((28, 28, 3), np.float32), generator="test")
    assert cli(["translate", "--run", run, "--input", str(src), "--output",
                str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "a.png").exists()
    assert cli(["translate", "--run", run, "--input", str(src), "--output",
                str(tmp_path / "o2"), "--direction", "BtoA"]) == 2
    assert "needs a CycleGAN run" in capsys.readouterr().err
    assert cli(["export", "--run", run, "--output", str(tmp_path / "sm")]) == 0
    assert (tmp_path / "sm" / "saved_model.pb").exists()
    assert cli(["evaluate", "--run", str(tmp_path / "missing")]) == 2
    assert "options.json" in capsys.readouterr().err


def test_bf16_compute_keeps_float32_weights_and_trains(tmp_path, digits):
    config = TrainConfig(run_dir=str(tmp_path / "bf16"), precision="bf16", steps=1, **TINY)
    result = train(config, x_train=digits, show_progress=False)
    assert all(w.dtype == "float32" for w in result.nets.g.trainable_weights)
    assert result.nets.g.get_layer("down1").compute_dtype == "bfloat16"
    assert all(np.isfinite(v) for v in result.history[-1].values())
    assert run_generator(result.nets.g, np.zeros((1, 32, 32, 3), np.float32)).dtype == np.float32
