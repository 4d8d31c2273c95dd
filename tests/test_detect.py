"""Detectors of generated images (detect/): the spectral feature against the
DFT of known patterns, the metrics against their definitions, both
detectors on a tiny fixture (smooth noise vs the same with a checkerboard),
the CNN's batch split over replicas (mirrored on two logical CPUs against
whole-batch SGD by hand), the dataset layout and the command line."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.ndimage import gaussian_filter

from detect.__main__ import main
from detect.metrics import accuracy_at, average_precision, detection_scores
from detect.spectral import DEFAULT_BINS, azimuthal_spectrum, fit_spectral, spectra

ROOT = Path(__file__).resolve().parents[1]


# -- the spectral feature --------------------------------------------------------------------

@pytest.mark.parametrize("h, w, ky, kx", [(32, 32, 0, 5), (32, 40, 5, 7), (48, 30, -9, 4),
                                          (64, 64, 20, 21)])
def test_spectrum_of_a_sinusoid_peaks_at_its_frequency(h, w, ky, kx):
    y, x = np.mgrid[:h, :w]
    wave = 0.5 + 0.4 * np.cos(2 * np.pi * (ky * y / h + kx * x / w) + 0.3)
    # its only frequency, in cycles/pixel, and the ring of width sqrt(2)/2 / bins it falls in
    radius = math.hypot(ky / h, kx / w)
    position = radius / (math.sqrt(2) / 2) * DEFAULT_BINS
    assert 0.05 < position % 1 < 0.95  # not on a ring boundary
    feature = azimuthal_spectrum(np.repeat(wave[..., None], 3, axis=-1))
    assert feature.shape == (DEFAULT_BINS,)
    assert int(np.argmax(feature)) == int(position)
    assert feature.max() == 1.0 and feature.min() == 0.0
    assert np.allclose(azimuthal_spectrum(wave), feature, atol=1e-6)  # grey input


def test_spectrum_batches_and_mixed_sizes_agree():
    rng = np.random.default_rng(0)
    a, b = rng.random((3, 20, 20, 3)), rng.random((2, 28, 24, 3))
    batched = spectra(list(a) + list(b), 16)
    single = np.stack([azimuthal_spectrum(im, 16) for im in list(a) + list(b)])
    assert batched.shape == (5, 16) and np.allclose(batched, single)
    assert np.all(azimuthal_spectrum(np.full((8, 8, 3), 0.3)) == 0)  # flat: no spectrum


# -- metrics ---------------------------------------------------------------------------------

def _ap_brute_force(y, s):
    """AP from its definition, one threshold at a time: sum over distinct
    thresholds t (descending) of (recall(t) - previous recall) * precision(t)."""
    ap, prev = 0.0, 0.0
    for t in sorted(set(s), reverse=True):
        called = s >= t
        tp = np.sum(y[called])
        recall = tp / y.sum()
        ap += (recall - prev) * tp / called.sum()
        prev = recall
    return ap


def test_average_precision_matches_its_definition():
    # scikit-learn's documented example
    assert average_precision([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.8333333)
    rng = np.random.default_rng(5)
    for _ in range(20):
        y = rng.integers(0, 2, 40)
        y[0] = 1
        s = np.round(rng.random(40) + 0.5 * y, 1)  # rounding makes ties
        assert average_precision(y, s) == pytest.approx(_ap_brute_force(y, s), abs=1e-12)
    assert average_precision([0, 1, 0, 1], [0.1, 0.9, 0.2, 0.8]) == 1.0
    assert average_precision([0, 1, 0, 1], [0.5] * 4) == 0.5  # one tie: the base rate


def test_accuracy_at_threshold():
    y = [0, 0, 1, 1]
    assert accuracy_at(y, [0.1, 0.6, 0.5, 0.9]) == 0.75  # 0.5 counts as fake
    assert accuracy_at(y, [-2.0, -0.1, 0.0, 3.0], threshold=0.0) == 1.0
    scores = detection_scores(y, [0.1, 0.6, 0.4, 0.9])
    assert (scores["real_acc"], scores["fake_acc"], scores["n"]) == (0.5, 0.5, 4)
    with pytest.raises(ValueError, match="differ in length"):
        accuracy_at([0, 1], [0.5])


# -- the tiny fixture ------------------------------------------------------------------------

def _fixture(rng: np.random.Generator, n: int, size: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """Real: smooth colour noise. Fake: the same kind of noise plus a faint
    checkerboard (the period-2 trace of a stride-2 transposed convolution)."""
    def smooth(k):
        x = gaussian_filter(rng.standard_normal((k, size, size, 3)), (0, 1.5, 1.5, 0))
        return 0.5 + 0.15 * x / x.std()
    board = (np.indices((size, size)).sum(0) % 2 - 0.5)[None, ..., None] * 0.06
    return np.clip(smooth(n), 0, 1), np.clip(smooth(n) + board, 0, 1)


def _write(root, name, split, real, fake):
    for label, images in (("real", real), ("fake", fake)):
        folder = root / name / split / label
        folder.mkdir(parents=True)
        for i, im in enumerate(images):
            Image.fromarray(np.round(im * 255).astype(np.uint8)).save(folder / f"{i}.png")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("detect_data")
    rng = np.random.default_rng(7)
    for split, n in (("train", 40), ("test", 20)):
        _write(root, "board", split, *_fixture(rng, n))
    return root


def test_spectral_detector_beats_chance():
    rng = np.random.default_rng(1)
    real, fake = _fixture(rng, 40)
    x = spectra(list(real) + list(fake))
    y = np.r_[np.zeros(40), np.ones(40)]
    detector = fit_spectral(x, y, l2=1e-2)
    real_t, fake_t = _fixture(rng, 20)
    p = detector.predict(list(real_t) + list(fake_t))
    y_t = np.r_[np.zeros(20), np.ones(20)]
    assert average_precision(y_t, p) > 0.95 and accuracy_at(y_t, p) > 0.8


def test_cnn_trains_resumes_and_beats_chance(dataset, tmp_path, capsys):
    from detect.train import load_run

    run = tmp_path / "cnn"
    args = ["train", "--data", str(dataset), "--run", str(run), "--batch-size", "16",
            "--width", "8", "--no-augment", "--learning-rate", "3e-3", "--log-every", "10",
            "--quiet"]
    assert main(args + ["--steps", "20", "--checkpoint-every", "20"]) == 0
    assert main(args + ["--steps", "60"]) == 0  # resumes at step 20
    out = capsys.readouterr().out
    assert "step 60" in out and "board (trained on): AP" in out
    report = json.loads((run / "report.json").read_text())
    assert report["step"] == 60 and report["test"]["board"]["ap"] > 0.8
    history = json.loads((run / "history.json").read_text())
    assert [row["step"] for row in history] == list(range(1, 61))
    detector = load_run(run)
    real, fake = (np.asarray(Image.open(dataset / "board/test" / k / "0.png"), np.float32) / 255
                  for k in ("real", "fake"))
    assert detector.kind == "cnn" and detector.step == 60
    assert np.all((detector.predict([real, fake]) >= 0) & (detector.predict([real, fake]) <= 1))


def test_gaussian_blur_matches_scipy():
    import tensorflow as tf

    from detect.cnn import gaussian_blur

    rng = np.random.default_rng(2)
    x = rng.random((2, 12, 10, 3)).astype(np.float32)
    out = gaussian_blur(tf.constant(x), tf.constant([1.0, 0.0]), radius=3).numpy()
    # TF's REFLECT padding is SciPy's "mirror"; radius 3 = truncate 3 sigma at sigma 1
    expected = gaussian_filter(x[0], (1.0, 1.0, 0), mode="mirror", truncate=3.0)
    assert np.allclose(out[0], expected, atol=1e-5)
    assert np.allclose(out[1], x[1], atol=1e-6)  # sigma 0: unchanged


def test_augment_is_stateless_and_off_means_mirror_only():
    import tensorflow as tf

    from detect.cnn import augment

    x = tf.constant(np.random.default_rng(3).random((6, 16, 16, 3)), tf.float32)
    key = tf.constant([4, 5], tf.int64)
    a, b = augment(x, key, blur_sigma=2.0), augment(x, key, blur_sigma=2.0)
    assert np.array_equal(a.numpy(), b.numpy())
    plain = augment(x, key, blur_prob=0.0, jpeg_prob=0.0).numpy()
    for got, want in zip(plain, x.numpy()):
        assert np.array_equal(got, want) or np.array_equal(got, want[:, ::-1])


def test_replica_shares_make_up_the_global_batch():
    """Each step's batch is half reals (crops of pool 0, maybe mirrored), half
    fakes (pool 1); replica r of 2 gets reals and fakes r*2 .. r*2+1 of it,
    augmented as in the whole batch, so the two see different images."""
    import tensorflow as tf

    from detect.train import cnn_batch

    rng = np.random.default_rng(4)
    pools = [rng.integers(0, 256, (n, 12, 12, 3), dtype=np.uint8) for n in (9, 11)]
    step = tf.constant(5, tf.int64)
    plain = dict(seed=3, batch_size=8, blur_prob=0.0, jpeg_prob=0.0)
    x, y = cnn_batch([tf.constant(p) for p in pools], step, **plain)
    x = np.round(x.numpy() * 255)
    np.testing.assert_array_equal(y.numpy(), [0, 0, 0, 0, 1, 1, 1, 1])
    for row, label in zip(x, y.numpy().astype(int)):
        assert any(np.array_equal(row, im) or np.array_equal(row, im[:, ::-1])
                   for im in pools[label])
    kw = dict(plain, blur_prob=0.5, blur_sigma=1.0, jpeg_prob=0.5)
    whole, _ = cnn_batch([tf.constant(p) for p in pools], step, **kw)
    shares = [cnn_batch([tf.constant(p) for p in pools], step, replica=r, replicas=2, **kw)
              for r in (0, 1)]
    for (xr, yr), rows in zip(shares, ([0, 1, 4, 5], [2, 3, 6, 7])):
        np.testing.assert_array_equal(xr.numpy(), whole.numpy()[rows])
        np.testing.assert_array_equal(yr.numpy(), [0, 0, 1, 1])
    assert not np.array_equal(shares[0][0].numpy(), shares[1][0].numpy())


MIRRORED = textwrap.dedent("""
    import sys
    sys.path.insert(0, {root!r})
    from core.env import quiet_tensorflow
    tf = quiet_tensorflow()
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    # grappler's graph optimisation costs more than these 2-step runs gain
    tf.config.optimizer.set_experimental_options({{"disable_meta_optimizer": True}})
    import keras, numpy as np
    import core.train
    from core.loop import Run, get_strategy, set_seed
    from detect.cnn import build_cnn
    from detect.config import TrainConfig
    from detect.data import load_split
    from detect.train import _centre_crops, cnn_batch, train

    LR = 0.5
    def sgd(variables, learning_rate, **_):
        opt = keras.optimizers.SGD(LR)
        opt.build(variables)
        return opt
    # Adam's first steps are blind to the gradient's scale (m / sqrt(v)); plain SGD shows
    # whether the replicas' gradients add up to the whole batch's
    core.train.build_adam = sgd

    def weights(run):
        net = build_cnn(4)
        Run(run, {{}}, trackables={{"model": net}}).restore_weights()
        return [w.numpy() for w in net.weights]

    base = dict(data={data!r}, batch_size=8, width=4, crop=16, seed=2, blur_sigma=1.0,
                log_every=1, sample_every=100, checkpoint_every=1)
    mirrored = get_strategy("mirrored")
    print("REPLICAS", mirrored.num_replicas_in_sync)
    whole = train(TrainConfig(run_dir={run!r} + "/a", steps=2, **base), show_progress=False)
    train(TrainConfig(run_dir={run!r} + "/b", steps=1, strategy="mirrored", **base),
          strategy=mirrored, show_progress=False)
    at_1 = weights({run!r} + "/b")
    resumed = train(TrainConfig(run_dir={run!r} + "/b", steps=2, strategy="mirrored", **base),
                    strategy=mirrored, show_progress=False)
    print("RESUMED_AT", resumed.start_step, [h["step"] for h in resumed.history])

    # the reference: two SGD steps on the whole batch, one device, Keras' own BCE
    split = load_split({data!r}, "train")["board"]
    pools = [tf.constant(_centre_crops([im for im, y in zip(split.images, split.labels)
                                        if y == k], 16)) for k in (0, 1)]
    set_seed(2)
    net = build_cnn(4)  # the initial weights train() draws
    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    ref = []
    for step in (0, 1):
        x, y = cnn_batch(pools, tf.constant(step, tf.int64), seed=2, batch_size=8,
                         blur_sigma=1.0)
        with tf.GradientTape() as tape:
            loss = bce(y, net(x, training=True))
        for v, g in zip(net.trainable_variables, tape.gradient(loss, net.trainable_variables)):
            v.assign_sub(LR * g)
        ref.append([w.numpy() for w in net.weights])
    def gap(a, b):
        return max(float(np.abs(p - q).max()) for p, q in zip(a, b))
    moved = gap(ref[0], ref[1])
    print("MOVED", moved)
    print("GAP_MIRRORED_STEP1", gap(at_1, ref[0]))
    print("GAP_MIRRORED_STEP2", gap(weights({run!r} + "/b"), ref[1]))
    print("GAP_DEFAULT_STEP2", gap(weights({run!r} + "/a"), ref[1]))
""")


def test_mirrored_cnn_steps_like_the_whole_batch_and_resumes(dataset, tmp_path):
    """Two logical CPUs (a fresh process: devices are set before TensorFlow
    starts): each SGD step of the mirrored CNN, first session and resumed,
    equals the whole-batch step computed by hand with Keras' cross-entropy;
    so does the default strategy's. The CNN computes in float32; the
    tolerance covers the two-replica gradient sum's rounding."""
    code = MIRRORED.format(root=str(ROOT), data=str(dataset), run=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    values = dict(line.split(" ", 1) for line in out.stdout.splitlines() if " " in line)
    assert values["REPLICAS"] == "2"
    assert values["RESUMED_AT"] == "1 [1, 2]"
    assert float(values["MOVED"]) > 1e-3  # the steps change the weights
    for name in ("GAP_MIRRORED_STEP1", "GAP_MIRRORED_STEP2", "GAP_DEFAULT_STEP2"):
        assert float(values[name]) < 1e-5, (name, out.stdout)


# -- data builder and command line -----------------------------------------------------------

def test_build_dataset_is_reproducible_disjoint_and_marked(tmp_path, monkeypatch):
    from data.images import read_provenance
    from detect.data import build_dataset, load_split, toy_source

    monkeypatch.setenv("DEEPFAKE_LAB_C2PA", "off")
    for root in (tmp_path / "a", tmp_path / "b"):
        summary = build_dataset(root, [toy_source(16)], n_train=4, n_test=3, seed=1,
                                show_progress=False)
        assert summary["toy"]["status"] == "built"
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.png"))
    assert len(files) == 14
    assert all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()
               for f in files)
    assert read_provenance(tmp_path / "a/toy/train/fake/00000.png")["Generator"] == "toy"
    assert "AI-Generated" not in read_provenance(tmp_path / "a/toy/train/real/00000.png")
    train, test = (load_split(tmp_path / "a", s)["toy"] for s in ("train", "test"))
    assert train.labels.tolist() == [0] * 4 + [1] * 4
    pixels = {im.tobytes() for im in train.images}
    assert not any(im.tobytes() in pixels for im in test.images)
    again = build_dataset(tmp_path / "a", [toy_source(16)], n_train=4, n_test=3, seed=1,
                          show_progress=False)
    assert again["toy"]["status"] == "kept"
    with pytest.raises(ValueError, match="already built with other settings"):
        build_dataset(tmp_path / "a", [toy_source(16)], n_train=5, n_test=3, seed=1,
                      show_progress=False)


def test_toy_sources_upsample_half_size_noise():
    from detect.data import builtin_source

    nearest = builtin_source("toy_nearest").fake("train", 0, 3)
    assert nearest.shape == (3, 32, 32, 3)
    for dy, dx in ((0, 1), (1, 0), (1, 1)):  # 2x2 blocks of equal pixels
        assert np.array_equal(nearest[:, dy::2, dx::2], nearest[:, ::2, ::2])
    board = builtin_source("toy").fake("train", 0, 3)
    # a stride-2 3x3 transposed convolution sums 1, 2 or 4 inputs by the output's parity
    ones, twos, fours = (np.mean(board[:, a::2, b::2]) for a, b in ((0, 0), (0, 1), (1, 1)))
    assert ones + 0.05 < twos < fours - 0.05
    assert np.mean(board[:, 1::2, ::2]) == pytest.approx(twos, abs=0.02)
    with pytest.raises(ValueError, match="toy_nearest, dcgan"):
        builtin_source("toy_bilinear")


def test_robustness_downscaling_erases_a_period_2_trace():
    from detect.data import Split
    from detect.spectral import luma
    from detect.study import ap_matrix, robustness
    from detect.train import Detector

    rng = np.random.default_rng(4)
    real, fake = _fixture(rng, 30, size=32)
    split = Split(list(real) + list(fake), np.r_[np.zeros(30), np.ones(30)].astype(int), [])
    parity = (-1.0) ** np.indices((32, 32)).sum(0)

    def amplitude(images):  # the checkerboard's amplitude, at any size
        return np.array([abs(np.mean(luma(im) * parity[:im.shape[0], :im.shape[1]]))
                         for im in images])

    assert average_precision(split.labels, amplitude(split.images)) == pytest.approx(1.0)
    scores = robustness(Detector("probe", amplitude), split)
    assert set(scores) == {"jpeg75", "down2"}
    assert scores["down2"] < 0.8  # averaging 2x2 blocks cancels a period-2 pattern
    report = {"test": {"a": {"ap": 0.9}, "b": {"ap": 0.6}}}
    assert ap_matrix({"a": report}) == {"a": {"a": 0.9, "b": 0.6}}


def test_run_kind_reads_each_package(tmp_path):
    from detect.data import run_kind

    cases = {"gan": {"model": "dcgan"}, "cyclegan": {"model": "pix2pix"},
             "stargan": {"n_critic": 5, "conditioning": "planes"},
             "fast-style": {"model": "nst.fast (Johnson et al. 2016 per-style network)"}}
    for kind, options in cases.items():
        (tmp_path / kind).mkdir()
        (tmp_path / kind / "options.json").write_text(json.dumps(options))
        assert run_kind(tmp_path / kind) == kind
    with pytest.raises(ValueError, match="not a training run"):
        run_kind(tmp_path)


def test_cli_spectral_train_and_score(dataset, tmp_path, capsys):
    run = tmp_path / "spectral"
    assert main(["train", "--data", str(dataset), "--run", str(run), "--detector",
                 "spectral"]) == 0
    assert "board (trained on): AP 1.000" in capsys.readouterr().out
    good = dataset / "board/test/fake/0.png"
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    assert main(["score", "--run", str(run), str(good), str(bad)]) == 1
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].startswith(f"{good}: P(fake) = ")
    assert lines[1].startswith(f"{bad}: not a recognised image") and len(lines) == 3
    assert lines[2].startswith("These probabilities are evidence, not proof")
    # the same folder with other options is refused in one line
    assert main(["train", "--data", str(dataset), "--run", str(run), "--detector",
                 "spectral", "--bins", "8"]) == 2
    assert capsys.readouterr().err.strip().endswith("(--bins: 48 -> 8); use a new run folder")


@pytest.mark.parametrize("argv, message", [
    (["train", "--run", "RUN"], "error: --data must be a dataset folder"),
    (["train", "--run", "RUN", "--data", "nowhere"], "error: --data must be an existing"),
    (["train", "--run", "RUN", "--data", "DATA", "--batch-size", "7"],
     "error: --batch-size must be an even number"),
    (["score", "--run", "DATA", "x.png"], "error: --run DATA: not a detector run"),
    (["build-data", "--out", "OUT"], "error: nothing to build"),
    (["build-data", "--out", "OUT", "--from", "DATA"], "error: --from DATA: not a training run"),
    (["train", "--run", "RUN", "--data", "DATA", "--strategy", "multiworker"],
     "error: TF_CONFIG: the environment variable is not set; --strategy multiworker expects"),
    (["train", "--run", "RUN", "--data", "DATA", "--detector", "spectral", "--strategy",
      "mirrored"], "error: --strategy must be default for the spectral detector"),
])
def test_cli_errors_are_one_line(dataset, tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    subst = {"RUN": str(tmp_path / "run"), "DATA": str(dataset), "OUT": str(tmp_path / "out")}
    code = main([subst.get(a, a) for a in argv])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert err.startswith(message.replace("DATA", str(dataset))), err
