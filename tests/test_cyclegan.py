"""pix2pix and CycleGAN: the train steps (against junyanz's objective
computed by hand), exact resume, tf.distribute, inference at any size,
SavedModel export, metrics and the CLI.

Every numeric comparison runs at precision="float32" (TINY); bf16 has its own
test."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from core.config import ConfigError
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
from cyclegan.metrics import cyclegan_scores, dark_stroke, paired_scores
from cyclegan.train import make_cyclegan_step, make_stream
from data import read_provenance, save_image
from data.mnist import load_mnist

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(ngf=8, ndf=8, batch_size=2, pool_size=3, log_every=1, sample_every=2,
            checkpoint_every=2, precision="float32")


@pytest.fixture(scope="module")
def digits():
    (x, _), _ = load_mnist()
    return x[:512]


def _weights(nets):
    return [w.numpy() for net in nets.trackables().values() for w in net.weights]


def _mean_abs(x):
    return tf.reduce_mean(tf.abs(x))


def test_cyclegan_step_is_junyanzs_objective_computed_by_hand():
    """One step with plain SGD (lr 1), lambda_A = 10, lambda_B = 2.5, identity
    0.5, BCE: the reported cycle and identity losses are junyanz's, computed
    here; G and F move by minus the gradients of the tutorial's per-generator
    losses (own adversarial term + both cycles + own identity term), D_A and
    D_B by minus the gradients of their halved real/fake BCE on the fakes the
    (not yet full) pools pass through; both pools store the batch."""
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
        cycle = (10 * _mean_abs(x - F(fake_y, training=True))
                 + 2.5 * _mean_abs(y - G(fake_x, training=True)))
        idt_f = 10 * 0.5 * _mean_abs(x - F(x, training=True))     # lambda_A * 0.5
        idt_g = 2.5 * 0.5 * _mean_abs(y - G(y, training=True))    # lambda_B * 0.5
        disc_fake_y, disc_fake_x = D_B(fake_y, training=True), D_A(fake_x, training=True)
        total_g = bce(tf.ones_like(disc_fake_y), disc_fake_y) + cycle + idt_g
        total_f = bce(tf.ones_like(disc_fake_x), disc_fake_x) + cycle + idt_f
    with tf.GradientTape(persistent=True) as d_tape:  # D sees the fakes of the same pass
        real_a, pooled_a = D_A(x, training=True), D_A(tf.stop_gradient(fake_x), training=True)
        real_b, pooled_b = D_B(y, training=True), D_B(tf.stop_gradient(fake_y), training=True)
        d_a = 0.5 * (bce(tf.ones_like(real_a), real_a) + bce(tf.zeros_like(pooled_a), pooled_a))
        d_b = 0.5 * (bce(tf.ones_like(real_b), real_b) + bce(tf.zeros_like(pooled_b), pooled_b))
    nets_losses = ((G, total_g, tape), (F, total_f, tape), (D_A, d_a, d_tape),
                   (D_B, d_b, d_tape))
    before = [[v.numpy() for v in net.trainable_variables] for net, _, _ in nets_losses]
    expected = [[-g.numpy() for g in t.gradient(loss, net.trainable_variables)]
                for net, loss, t in nets_losses]
    g_opt = tf.keras.optimizers.SGD(learning_rate=1.0)
    d_opt = tf.keras.optimizers.SGD(learning_rate=1.0)
    pools = (ImagePool(3, (32, 32, 3)), ImagePool(3, (32, 32, 3)))
    step = make_cyclegan_step(nets, g_opt, d_opt, pools, tf.distribute.get_strategy(), seed=0,
                              gan_loss="bce", cycle_weight=10.0, backward_cycle_scale=0.25)
    out = step((a, b), tf.constant(0, tf.int64))
    np.testing.assert_allclose(float(out["cycle"]), float(cycle), rtol=1e-4)
    np.testing.assert_allclose(float(out["identity"]), float(idt_f + idt_g), rtol=1e-4)
    np.testing.assert_allclose([float(out["d_a"]), float(out["d_b"])], [float(d_a), float(d_b)],
                               rtol=1e-4)
    for (net, _, _), old, want in zip(nets_losses, before, expected):
        assert len(old) == len(want) == len(net.trainable_variables)
        for v, w0, g in zip(net.trainable_variables, old, want):
            # the update itself, at the gradients' scale
            np.testing.assert_allclose(v.numpy() - w0, g, rtol=1e-3,
                                       atol=1e-3 * np.abs(g).max() + 1e-7, err_msg=net.name)
    assert int(pools[0].count.numpy()) == 2 and int(pools[1].count.numpy()) == 2


def _resume_pair(root: Path, digits, **options):
    """(straight run, first session stopped at step 2, resumed run) of a
    3-step run with ``options``; the resumed one in ``root / "b"``."""
    base = dict(steps=3, seed=5, **TINY, **options)
    straight = train(TrainConfig(run_dir=str(root / "a"), **base), x_train=digits,
                     show_progress=False)
    first = train(TrainConfig(run_dir=str(root / "b"), **base), x_train=digits,
                  show_progress=False, stop_after=2)
    at_2 = {name: [w.numpy() for w in net.trainable_weights]
            for name, net in first.nets.trackables().items()}
    resumed = train(TrainConfig(run_dir=str(root / "b"), **base), x_train=digits,
                    show_progress=False)
    return straight, first, at_2, resumed


@pytest.fixture(scope="module")
def cyclegan_runs(tmp_path_factory, digits):
    root = tmp_path_factory.mktemp("cyclegan_runs")
    return root, _resume_pair(root, digits, model="cyclegan", data="mnist_mnistm")


def _check_resume(straight, first, at_2, resumed):
    assert first.history[-1]["step"] == 2
    assert resumed.start_step == 2 and [h["step"] for h in resumed.history] == [1, 2, 3]
    for a, b in zip(straight.history, resumed.history):
        assert {k: v for k, v in a.items() if k != "seconds"} == \
            {k: v for k, v in b.items() if k != "seconds"}
    for a, b in zip(_weights(straight.nets), _weights(resumed.nets)):
        np.testing.assert_array_equal(a, b)
    # the third step trained every weight of every network
    for name, net in resumed.nets.trackables().items():
        still = sum(np.array_equal(w0, w.numpy()) for w0, w in zip(at_2[name],
                                                                   net.trainable_weights))
        assert still == 0, f"{name}: {still} weights did not move"


def test_cyclegan_interrupted_and_resumed_equals_uninterrupted(cyclegan_runs):
    _check_resume(*cyclegan_runs[1])


def test_pix2pix_interrupted_and_resumed_equals_uninterrupted(tmp_path, digits):
    _check_resume(*_resume_pair(tmp_path, digits, model="pix2pix", data="mnistm_to_mnist"))


def test_run_folder_options_and_guards(tmp_path, digits, cyclegan_runs):
    run = tmp_path / "run"
    # a failed start writes nothing: unknown data, a folder without the layout
    with pytest.raises(ConfigError, match="data must be a built-in set .*mnist_mnistm"):
        train(TrainConfig(run_dir=str(run), data="mnist_mnistmm", **TINY))
    (tmp_path / "flat").mkdir()
    with pytest.raises(ValueError, match="flat: expected the unaligned layout"):
        train(TrainConfig(run_dir=str(run), data=str(tmp_path / "flat"), **TINY))
    assert not run.exists()
    shutil.copytree(cyclegan_runs[0] / "b", run)  # a finished 3-step run
    config = TrainConfig(run_dir=str(run), steps=3, seed=5, **TINY)
    options = json.loads((run / "options.json").read_text())
    assert options["model"] == "cyclegan" and options["pool_size"] == 3
    assert list((run / "logs").iterdir())
    sample = sorted((run / "samples").glob("*.png"))[-1]
    assert read_provenance(sample)["AI-Generated"] == "true"
    # the guards act on restore, before any step (steps=3: nothing left to train)
    with pytest.raises(ConfigError, match=r"cannot resume, options differ .*ngf"):
        train(dataclasses.replace(config, ngf=16), x_train=digits, show_progress=False)
    # a run written before an option existed resumes at that option's default only
    del options["backward_cycle_scale"]
    (run / "options.json").write_text(json.dumps(options))
    assert train(config, x_train=digits, show_progress=False).start_step == 3
    with pytest.raises(ValueError, match=r"options differ .*backward_cycle_scale: 1.0 -> 0.5"):
        train(dataclasses.replace(config, backward_cycle_scale=0.5), x_train=digits,
              show_progress=False)
    for f in (run / "checkpoints").glob("ckpt-3.data-*"):
        f.write_bytes(b"garbage" * 10)
    with pytest.raises(ValueError, match="ckpt-3"):
        train(config, x_train=digits, show_progress=False)


def test_a_corrupt_training_image_is_named_or_skipped(tmp_path):
    root = tmp_path / "data"
    for side in ("trainA", "trainB"):
        for i in range(2):
            save_image(root / side / f"{i}.png", np.full((40, 40, 3), i / 2, np.float32),
                       generator="test")
    (root / "trainB" / "broken.jpg").write_bytes(b"not a jpeg")
    run = tmp_path / "run"
    config = TrainConfig(run_dir=str(run), data=str(root), **TINY)
    with pytest.raises(ValueError, match=r"broken\.jpg.*--skip-bad-images"):
        train(config, show_progress=False)
    assert not run.exists()
    skipping = dataclasses.replace(config, skip_bad_images=True)
    a, b = next(iter(make_stream(skipping)(2, 0, 0)))
    assert a.shape == b.shape == (2, 32, 32, 3)


def test_bad_config_values_are_named(monkeypatch):
    assert TrainConfig().gan_loss == "lsgan" and TrainConfig(model="pix2pix").gan_loss == "bce"
    with pytest.raises(ValueError, match="generator must be one of unet, resnet6, resnet9"):
        TrainConfig(generator="resnet12")
    with pytest.raises(ValueError, match="image_size must be a power of two"):
        TrainConfig(image_size=48)
    with pytest.raises(ValueError, match="image_size must be a multiple of 4"):
        TrainConfig(generator="resnet9", image_size=30)
    with pytest.raises(ValueError, match="image_size must be at least 17"):
        TrainConfig(image_size=16)
    with pytest.raises(ValueError, match="^image_size must be 32 for data 'mnist_mnistm', got 64$"):
        train(TrainConfig(image_size=64), show_progress=False)
    with pytest.raises(ValueError, match=r"^load_size must be 0 or >= image_size \(32\), got 16$"):
        TrainConfig(load_size=16)
    assert TrainConfig().data == "mnist_mnistm"
    assert TrainConfig(model="pix2pix").data == "mnistm_to_mnist"
    with pytest.raises(ValueError, match="data must be a paired set for pix2pix"):
        TrainConfig(model="pix2pix", data="photo_painting")
    with pytest.raises(ValueError, match="data must be a paired set .*aligned A\\|B"):
        TrainConfig(model="pix2pix", data="tfds:horse2zebra")
    assert TrainConfig(model="pix2pix", data="mnist_mnistm").data == "mnist_mnistm"
    with pytest.raises(ValueError, match="precision must be one of auto, float32, bf16"):
        TrainConfig(precision="fp8")
    # precision="auto" is core.precision's choice (here forced by its variable); explicit wins
    for forced in ("bf16", "float32"):
        monkeypatch.setenv("DEEPFAKE_LAB_PRECISION", forced)
        assert TrainConfig().precision == forced
        assert TrainConfig(precision="float32").precision == "float32"
        assert TrainConfig(precision="bf16").dtype == "mixed_bfloat16"


@pytest.mark.parametrize("argv,message", [
    (["train", "--load-size", "16"], "error: --load-size must be 0 or >= --image-size (32), got 16"),
    (["train", "--image-size", "64"],
     "error: --image-size must be 32 for --data 'mnist_mnistm', got 64"),
    (["translate", "--input", "in", "--output", "out", "--max-side", "-3"],
     "python -m cyclegan translate: error: argument --max-side: expected a number of pixels "
     ">= 0 (0: no limit), got '-3'"),
])
def test_cli_errors_spell_every_option_as_a_flag(tmp_path, capsys, argv, message):
    run = tmp_path / "run"
    try:
        code = cli(argv[:1] + ["--run", str(run)] + argv[1:])
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    assert code == 2 and capsys.readouterr().err.strip().splitlines()[-1] == message
    assert not run.exists()


MIRRORED = textwrap.dedent("""
    import sys
    sys.path.insert(0, {root!r})
    import numpy as np, tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import warnings
    from cyclegan import TrainConfig, train
    from core.loop import get_strategy
    from data.mnist import load_mnist
    (x, _), _ = load_mnist()
    # grappler's graph optimisation costs more than these 2-step runs gain;
    # the runs compared share the setting
    tf.config.optimizer.set_experimental_options({{"disable_meta_optimizer": True}})
    strategy = get_strategy("mirrored")
    # pools of 4 hold the 2 fakes of each replica's first two steps without
    # drawing from them, so the resume is exact while pools are restored
    base = dict(steps=2, ngf=8, ndf=8, batch_size=4, pool_size=4, strategy="mirrored",
                log_every=1, sample_every=2, checkpoint_every=1, precision="float32")
    straight = train(TrainConfig(run_dir={run!r} + "/a", **base), x_train=x[:256],
                     strategy=strategy, show_progress=False)
    train(TrainConfig(run_dir={run!r} + "/b", **base), x_train=x[:256], strategy=strategy,
          show_progress=False, stop_after=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        resumed = train(TrainConfig(run_dir={run!r} + "/b", **base), x_train=x[:256],
                        strategy=strategy, show_progress=False)
    print("REPLICAS", strategy.num_replicas_in_sync)
    assert resumed.start_step == 1
    assert all(np.isfinite(v) for h in straight.history for v in h.values())
    same = all(np.array_equal(a.numpy(), b.numpy())
               for n in ("g", "f", "d_a", "d_b")
               for a, b in zip(getattr(straight.nets, n).weights, getattr(resumed.nets, n).weights))
    print("RESUME_EXACT", same)
    # each replica keeps its own pool; a resume restores replica 0's and says so
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
            "--precision", "float32", "--quiet"]
    assert cli(args) == 0
    assert cli(["evaluate", "--run", run, "-n", "40", "--json", str(tmp_path / "e.json")]) == 0
    scores = json.loads((tmp_path / "e.json").read_text())["scores"]
    assert set(scores) == {"model", "untrained", "identity"}
    assert set(scores["model"]) == {"l1", "psnr", "ssim"}
    src = tmp_path / "in"
    save_image(src / "a.png", np.zeros((28, 28, 3), np.float32), generator="test")
    assert cli(["translate", "--run", run, "--input", str(src), "--output",
                str(tmp_path / "out")]) == 0
    first = (tmp_path / "out" / "a.png").read_bytes()
    # again into the same folder: the earlier output is kept, the new one numbered
    assert cli(["translate", "--run", run, "--input", str(src), "--output",
                str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "a.png").read_bytes() == first
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "a_1.png"]
    capsys.readouterr()
    assert cli(["translate", "--run", run, "--input", str(src), "--output", str(src)]) == 2
    assert capsys.readouterr().err == (f"error: --output {src}: is the same folder as --input; "
                                       "choose another folder for the outputs\n")
    assert cli(["translate", "--run", run, "--input", str(src), "--output",
                str(tmp_path / "o2"), "--direction", "BtoA"]) == 2
    assert "needs a CycleGAN run" in capsys.readouterr().err
    # --skip-bad-images: a corrupt file is counted and skipped instead of stopping
    (src / "broken.png").write_bytes(b"not a png")
    assert cli(["translate", "--run", run, "--input", str(src), "--output",
                str(tmp_path / "o3")]) == 2
    assert "broken.png" in capsys.readouterr().err and not (tmp_path / "o3" / "a.png").exists()
    assert cli(["translate", "--run", run, "--input", str(src), "--output",
                str(tmp_path / "o3"), "--skip-bad-images"]) == 0
    assert (tmp_path / "o3" / "a.png").exists()
    # export never destroys a folder: refused without --force, replaced with it
    sm = tmp_path / "sm"
    assert cli(["export", "--run", run, "--output", str(sm)]) == 0
    assert (sm / "saved_model.pb").exists()
    (sm / "mine.txt").write_text("keep me")
    capsys.readouterr()
    assert cli(["export", "--run", run, "--output", str(sm)]) == 2
    err = capsys.readouterr().err
    assert "--force" in err and len(err.strip().splitlines()) == 1
    assert (sm / "mine.txt").read_text() == "keep me"
    assert cli(["export", "--run", run, "--output", str(sm), "--force"]) == 0
    assert (sm / "saved_model.pb").exists() and not (sm / "mine.txt").exists()
    assert cli(["evaluate", "--run", str(tmp_path / "missing")]) == 2
    assert "options.json" in capsys.readouterr().err
    # an unknown --data names the flag and the built-in sets, and leaves no run folder
    assert cli(["train", "--run", str(tmp_path / "typo"), "--data", "mnist_mnistmm"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --data must be a built-in set (gray_photo, mnist_mnistm, "
                          "mnistm_to_mnist, photo_painting)"), err
    assert not (tmp_path / "typo").exists()


def test_bf16_compute_keeps_float32_weights_and_trains(tmp_path, digits):
    config = TrainConfig(run_dir=str(tmp_path / "bf16"), model="pix2pix", steps=1,
                         **dict(TINY, precision="bf16"))
    result = train(config, x_train=digits, show_progress=False)
    assert all(w.dtype == "float32" for w in result.nets.g.trainable_weights)
    assert result.nets.g.get_layer("down1").compute_dtype == "bfloat16"
    assert all(np.isfinite(v) for v in result.history[-1].values())
    assert run_generator(result.nets.g, np.zeros((1, 32, 32, 3), np.float32)).dtype == np.float32
