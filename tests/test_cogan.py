"""CoGAN: weight sharing, the pixel-agreement metric, training, exact resume,
tf.distribute and the CLI."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from cogan import (CoGAN, ConditionalGAN, DCGAN, TrainConfig, build_model, pixel_agreement,
                   stroke_iou, train)
from cogan.__main__ import main as cli
from cogan.train import _optimizer, make_train_step
from core.config import ConfigError
from data import read_provenance
from data.mnist import edges, load_mnist, unpaired_domains

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(width=0.0625, batch_size=8, log_every=1, sample_every=2, checkpoint_every=2)


@pytest.fixture(scope="module")
def digits():
    (x, _), _ = load_mnist()
    return x[:512]


def _refs(variables):
    """Identity set of variables (Keras variables wrap a tf.Variable)."""
    return {(v if isinstance(v, tf.Variable) else v.value).ref() for v in variables}


def test_cogan_generators_share_all_but_the_output_layer():
    model = CoGAN(width=0.0625)
    model.build_all()
    z = tf.random.uniform((2, model.noise_dim), -1, 1)
    used = []
    variables = model.generator_variables
    for i in (0, 1):  # the variables each output depends on
        with tf.GradientTape() as tape:
            total = tf.reduce_sum(model.generate(z, training=True)[i])
        grads = tape.gradient(total, variables)
        used.append(_refs(v for v, g in zip(variables, grads) if g is not None))
    shared = _refs(v for layer in model.g_shared for v in layer.trainable_variables)
    assert shared and used[0] & used[1] == shared  # the very same variables
    head1, head2 = (_refs(h.trainable_variables) for h in model.g_heads)
    assert head1 <= used[0] and head2 <= used[1] and not head1 & head2


def test_cogan_discriminators_share_all_but_the_input_layer():
    model = CoGAN(width=0.0625)
    model.build_all()
    x = tf.random.uniform((2, 28, 28, 1))
    used = []
    variables = model.discriminator_variables
    for d in (0, 1):
        with tf.GradientTape() as tape:
            total = tf.reduce_sum(model.discriminate(x, d))
        grads = tape.gradient(total, variables)
        used.append(_refs(v for v, g in zip(variables, grads) if g is not None))
    shared = _refs(v for layer in model.d_shared for v in layer.trainable_variables)
    first1 = _refs(v for layer in model.d1_in for v in layer.trainable_variables)
    first2 = _refs(v for layer in model.d2_in for v in layer.trainable_variables)
    assert used[0] & used[1] == shared
    assert first1 <= used[0] and first2 <= used[1] and not first1 & first2


def test_conditional_gan_and_dcgan_shapes():
    cgan = ConditionalGAN(width=0.0625)
    cgan.build_all()
    z = tf.random.uniform((3, cgan.noise_dim), -1, 1)
    x1, x2 = cgan.generate(z)
    assert x1.shape == x2.shape == (3, 28, 28, 1)
    assert float(tf.reduce_mean(tf.abs(x1 - x2))) > 0  # the domain bit matters
    assert cgan.discriminate(x1, 1).shape == (3, 1)
    gan = DCGAN(width=0.0625)
    gan.build_all()
    img = gan.generate(z)
    assert img.shape == (3, 28, 28, 1) and 0 <= float(tf.reduce_min(img))
    assert float(tf.reduce_max(img)) <= 1


def test_pixel_agreement_hand_made_cases():
    x1 = np.zeros((2, 4, 4, 1), np.float32)
    x1[0, :2] = 1.0  # top half white
    neg = 1.0 - x1
    np.testing.assert_allclose(pixel_agreement(x1, neg, "negatives").numpy(), [1.0, 1.0])
    half_wrong = neg.copy()
    half_wrong[:, :, :2] = 1.0 - half_wrong[:, :, :2]  # flip the left half of every image
    np.testing.assert_allclose(pixel_agreement(x1, half_wrong, "negatives").numpy(), [0.5, 0.5])
    np.testing.assert_allclose(pixel_agreement(x1, x1, "negatives").numpy(), [0.0, 0.0])
    # edges: a white dot's edge image is its 8-neighbour ring
    dot = np.zeros((1, 5, 5, 1), np.float32)
    dot[0, 2, 2] = 1.0
    ring = edges(tf.constant(dot)).numpy()
    assert float(pixel_agreement(dot, ring, "edges")[0]) == 1.0
    assert float(pixel_agreement(dot, np.zeros_like(dot), "edges")[0]) == pytest.approx(17 / 25)


def test_stroke_iou_hand_made_cases():
    # edges: a dot's edge image is its 8-pixel ring; IoU counts ring pixels only
    dot = np.zeros((1, 5, 5, 1), np.float32)
    dot[0, 2, 2] = 1.0
    ring = np.zeros_like(dot)
    ring[0, 1:4, 1:4] = 1.0
    ring[0, 2, 2] = 0.0
    half_ring = ring.copy()
    half_ring[0, 1:4, 1:3] = 0.0                       # keeps 3 of the 8 ring pixels
    ring_plus = ring.copy()
    ring_plus[0, 0, :2] = 1.0                          # 2 extra pixels outside the ring
    iou = lambda a, b, t: float(stroke_iou(a, b, t)[0])
    assert iou(dot, ring, "edges") == 1.0
    assert iou(dot, half_ring, "edges") == pytest.approx(3 / 8)
    assert iou(dot, ring_plus, "edges") == pytest.approx(8 / 10)
    assert iou(dot, np.zeros_like(dot), "edges") == 0.0   # the blank image the ratio likes
    blank = np.zeros_like(dot)
    assert iou(blank, blank, "edges") == 1.0             # no strokes on either side
    # negatives: strokes are the dark pixels of the domain-2 image
    x1 = np.zeros((1, 4, 4, 1), np.float32)
    x1[0, :2] = 1.0                                      # 8 stroke pixels
    assert iou(x1, 1.0 - x1, "negatives") == 1.0
    partial = np.ones_like(x1)
    partial[0, :2, :2] = 0.0                             # 4 of the 8, no extras
    assert iou(x1, partial, "negatives") == pytest.approx(4 / 8)


def _weights(model):
    return [v.numpy() for v in model.weights]


def test_one_step_moves_both_domains(digits):
    """One train step changes both generated domains and each output head
    (compared with the same model's weights just before the step)."""
    model = build_model(TrainConfig(**TINY))
    g_opt = _optimizer(TrainConfig(**TINY), model.generator_variables)
    d_opt = _optimizer(TrainConfig(**TINY), model.discriminator_variables)
    z = tf.random.stateless_uniform([4, model.noise_dim], [1, 2], -1, 1)
    before = [np.asarray(x) for x in model.generate(z)]
    heads = [h.kernel.numpy() for h in model.g_heads]
    d_before = [v.numpy() for v in model.discriminator_variables]
    step = make_train_step(model, g_opt, d_opt, tf.distribute.get_strategy(), seed=0)
    batch = next(iter(unpaired_domains(digits, "negatives", batch_size=8)))
    out = step(batch, tf.constant(0, tf.int64))
    assert np.isfinite(float(out["d_loss"])) and np.isfinite(float(out["g_loss"]))
    for x0, x1 in zip(before, model.generate(z)):
        assert float(np.max(np.abs(x0 - np.asarray(x1)))) > 1e-6
    for h0, head in zip(heads, model.g_heads):  # each head itself, not only the shared trunk
        assert not np.array_equal(h0, head.kernel.numpy())
    assert all(not np.array_equal(a, b.numpy())
               for a, b in zip(d_before, model.discriminator_variables))


@pytest.mark.parametrize("model", ["cogan", "cgan", "dcgan"])
def test_interrupted_and_resumed_equals_uninterrupted(tmp_path, digits, model):
    base = dict(model=model, task="edges", steps=3, seed=3, **TINY)
    straight = train(TrainConfig(run_dir=str(tmp_path / "a"), **base), x_train=digits,
                     show_progress=False)
    first = train(TrainConfig(run_dir=str(tmp_path / "b"), **base), x_train=digits,
                  show_progress=False, stop_after=2)
    assert first.history[-1]["step"] == 2
    at_2 = _weights(first.model)
    resumed = train(TrainConfig(run_dir=str(tmp_path / "b"), **base), x_train=digits,
                    show_progress=False)
    assert resumed.start_step == 2 and [h["step"] for h in resumed.history] == [1, 2, 3]
    for a, b in zip(straight.history, resumed.history):
        assert (a["d_loss"], a["g_loss"]) == (b["d_loss"], b["g_loss"])
    for a, b in zip(_weights(straight.model), _weights(resumed.model)):
        np.testing.assert_array_equal(a, b)
    # the third step trained the networks (step 2 -> 3 moved their weights)
    trainable = {id(v) for v in resumed.model.trainable_variables}
    moved = [not np.array_equal(a, w.numpy()) for a, w in zip(at_2, resumed.model.weights)
             if id(w) in trainable]
    assert moved and all(moved)


def test_run_folder_guards_and_failures(tmp_path, digits):
    run = tmp_path / "run"
    # a failed start writes nothing
    with pytest.raises(ConfigError, match="image_size must be 28 for MNIST"):
        train(TrainConfig(run_dir=str(run), image_size=32, **TINY), x_train=digits)
    assert not run.exists()
    # options.json without a checkpoint (an earlier failed start) is replaced, not reused
    run.mkdir()
    (run / "options.json").write_text(json.dumps({"model": "cgan", "width": 0.5}))
    # a sample grid that cannot be written does not stop the run; said once
    (run / "samples").write_text("a file where the folder should be")
    config = TrainConfig(run_dir=str(run), steps=2, **dict(TINY, sample_every=1))
    with pytest.warns(UserWarning, match="sample grid not written") as caught:
        train(config, x_train=digits, show_progress=False)
    assert sum("sample grid not written" in str(w.message) for w in caught) == 1
    options = json.loads((run / "options.json").read_text())
    assert options["model"] == "cogan" and options["width"] == TINY["width"]
    assert (run / "checkpoints" / "ckpt-2.index").exists()
    assert list((run / "logs").iterdir()), "no TensorBoard events"
    (run / "samples").unlink()
    longer = train(dataclasses.replace(config, steps=3), x_train=digits, show_progress=False)
    assert longer.start_step == 2
    sample = sorted((run / "samples").glob("*.png"))[-1]
    assert read_provenance(sample)["AI-Generated"] == "true"
    # more steps may be asked for; a different model may not (checked before any step)
    with pytest.raises(ConfigError, match=r"cannot resume, options differ .*width"):
        train(dataclasses.replace(config, steps=3, width=0.125), x_train=digits,
              show_progress=False)
    for f in (run / "checkpoints").glob("ckpt-3.data-*"):
        f.write_bytes(b"garbage" * 10)
    with pytest.raises(ValueError, match="ckpt-3"):
        train(dataclasses.replace(config, steps=3), x_train=digits, show_progress=False)


def test_bad_config_values_are_named():
    with pytest.raises(ValueError, match="model must be one of dcgan, cogan, cgan"):
        TrainConfig(model="stylegan")
    with pytest.raises(ValueError, match="task must be one of edges, negatives"):
        TrainConfig(task="rotations")
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        TrainConfig(batch_size=0)
    with pytest.raises(ValueError, match="gan_loss must be one of bce, lsgan"):
        TrainConfig(gan_loss="wgan")
    with pytest.raises(ValueError, match=r"width must be in \(0, 4\]"):
        TrainConfig(width=0)


MIRRORED = textwrap.dedent("""
    import sys
    sys.path.insert(0, {root!r})
    import numpy as np, tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from cogan import TrainConfig, train
    from core.loop import get_strategy
    from data.mnist import load_mnist
    (x, _), _ = load_mnist()
    # grappler's graph optimisation costs more than these 2-step runs gain;
    # the runs compared share the setting
    tf.config.optimizer.set_experimental_options({{"disable_meta_optimizer": True}})
    strategy = get_strategy("mirrored")
    base = dict(steps=2, width=0.0625, batch_size=8, strategy="mirrored", log_every=1,
                sample_every=2, checkpoint_every=1)
    straight = train(TrainConfig(run_dir={run!r} + "/a", **base), x_train=x[:256],
                     strategy=strategy, show_progress=False)
    train(TrainConfig(run_dir={run!r} + "/b", **base), x_train=x[:256], strategy=strategy,
          show_progress=False, stop_after=1)
    resumed = train(TrainConfig(run_dir={run!r} + "/b", **base), x_train=x[:256],
                    strategy=strategy, show_progress=False)
    print("REPLICAS", strategy.num_replicas_in_sync)
    assert resumed.start_step == 1
    assert all(np.isfinite(h["d_loss"]) and np.isfinite(h["g_loss"]) for h in straight.history)
    same = all(np.array_equal(a.numpy(), b.numpy())
               for a, b in zip(straight.model.weights, resumed.model.weights))
    print("RESUME_EXACT", same)
""")


def test_mirrored_strategy_on_two_logical_cpus(tmp_path):
    code = MIRRORED.format(root=str(ROOT), run=str(tmp_path / "mirrored"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "REPLICAS 2" in out.stdout
    assert "RESUME_EXACT True" in out.stdout  # also exact under data parallelism
    assert (tmp_path / "mirrored" / "a" / "checkpoints" / "checkpoint").exists()


def test_cli_train_sample_evaluate(tmp_path, capsys):
    run = str(tmp_path / "cli")
    args = ["train", "--run", run, "--steps", "2", "--width", "0.0625", "--batch-size", "8",
            "--task", "negatives", "--quiet"]
    assert cli(args) == 0
    trained = re.search(r"pixel agreement \(negatives\): ([\d.]+)", capsys.readouterr().out)
    out_png = tmp_path / "pairs.png"
    assert cli(["sample", "--run", run, "-o", str(out_png), "-n", "4"]) == 0
    assert read_provenance(out_png)["AI-Generated"] == "true"
    assert cli(["evaluate", "--run", run, "--json", str(tmp_path / "e.json")]) == 0
    result = json.loads((tmp_path / "e.json").read_text())
    # the checkpoint holds the trained model: the same 10000 pairs score the same
    assert result["step"] == 2 and f"{result['pixel_agreement']:.4f}" == trained[1]
    assert cli(["evaluate", "--run", str(tmp_path / "missing")]) == 2
    assert "options.json" in capsys.readouterr().err
    # a file-system error names the path in one line; nothing else is touched
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    assert cli(["sample", "--run", run, "-o", str(blocker / "x.png")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and str(blocker) in err and len(err.splitlines()) == 1
    blocked = tmp_path / "blocked"  # checkpoints cannot be written: said in one line
    blocked.mkdir()
    (blocked / "checkpoints").write_text("")
    assert cli(["train", "--run", str(blocked), "--steps", "1", "--width", "0.0625",
                "--batch-size", "8", "--quiet"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {blocked / 'checkpoints'}: ") and len(err.splitlines()) == 1
    assert cli(["train", "--run", str(tmp_path / "bad"), "--batch-size", "0"]) == 2
    assert capsys.readouterr().err.strip() == \
        "error: --batch-size must be a positive integer, got 0"
    assert not (tmp_path / "bad").exists()
    for f in (Path(run) / "checkpoints").glob("ckpt-2.data-*"):
        f.write_bytes(b"garbage" * 10)
    assert cli(["sample", "--run", run, "-o", str(tmp_path / "x.png")]) == 2
    assert "ckpt-2: checkpoint does not match this model" in capsys.readouterr().err
