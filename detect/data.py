"""Real and fake images per generator, for training and measuring detectors.

A dataset is a folder of PNG files::

    ROOT/<generator>/build.json                  what built it (sources, seeds, sizes)
    ROOT/<generator>/{train,test}/{real,fake}/*.png

Any folder in this layout works with ``python -m detect train --data ROOT``.
Fakes are written by :func:`data.images.save_image` (marked synthetic, as
every output of the repository); reals are plain PNGs. Detectors see pixels
only.

Generators are pluggable: a :class:`Source` is a name and two functions
``(split, seed, n) -> (n, H, W, 3)`` float32 images in [0, 1], one making
fakes, one drawing real images of the same domain. ``split`` is ``"train"``
or ``"test"``, and the two splits draw from disjoint pools (MNIST training
vs test digits, training vs held-out photos or photo regions), so train and
test sets never share an image. :func:`source_from_run` turns a trained run
of ``python -m cogan`` (DCGAN, CoGAN, cGAN), ``python -m cyclegan``
(CycleGAN, pix2pix), ``python -m stargan`` or ``python -m nst.fast`` into a
source; :func:`builtin_source` gives ``toy`` and ``toy_nearest`` (synthetic
checks: smooth noise vs the same noise through a checkerboard-prone or a
nearest-neighbour upsampling, no model) and ``dcgan`` (a DCGAN trained once
for a few minutes and cached).
:func:`build_dataset` writes it all reproducibly from one seed.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["BUILTINS", "LABELS", "SPLITS", "Source", "Split", "build_dataset",
           "builtin_dcgan_run", "builtin_source", "downscale", "generators_in", "jpeg", "load_split",
           "parse_run_spec", "run_kind", "source_from_run", "toy_source"]

SPLITS = ("train", "test")
#: label folders: 0 = real, 1 = fake
LABELS = ("real", "fake")
BUILTINS = ("toy", "toy_nearest", "dcgan")
_SALT = {"train": 0, "test": 1}
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif")

Draw = Callable[[str, int, int], np.ndarray]


@dataclass(frozen=True)
class Source:
    """One generator's data: ``fake(split, seed, n)`` and ``real(split, seed,
    n)`` -> ``(n, H, W, 3)`` float32 in [0, 1]; ``params`` describe it (saved
    in ``build.json`` and in the fakes' metadata); ``source_type`` is the IPTC
    type of its fakes (``compositeWithTrainedAlgorithmicMedia`` for face swaps)."""

    name: str
    fake: Draw
    real: Draw
    params: Mapping[str, Any] = field(default_factory=dict)
    source_type: str = "trainedAlgorithmicMedia"


def _rng(split: str, seed: int, salt: int) -> np.random.Generator:
    if split not in _SALT:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    return np.random.default_rng([seed, _SALT[split], salt])


def _rgb(x: Any) -> np.ndarray:
    x = np.clip(np.asarray(x, np.float32), 0.0, 1.0)
    return np.repeat(x, 3, axis=-1) if x.shape[-1] == 1 else x


# -- toy: no model, a known artefact ---------------------------------------------------------

def _smooth_noise(rng: np.random.Generator, n: int, size: int, sigma: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    x = gaussian_filter(rng.standard_normal((n, size, size, 3)), (0, sigma, sigma, 0),
                        mode="wrap")
    low, high = x.min((1, 2, 3), keepdims=True), x.max((1, 2, 3), keepdims=True)
    return (0.1 + 0.8 * (x - low) / (high - low)).astype(np.float32)


def _checkerboard_upsample(x: np.ndarray) -> np.ndarray:
    """2x upsampling as a stride-2 transposed convolution with a 3x3 box
    kernel: output pixels get 1, 2 or 4 inputs by parity (Odena et al. 2016's
    checkerboard), renormalised to the input range."""
    n, h, w, c = x.shape
    up = np.zeros((n, 2 * h, 2 * w, c))
    up[:, ::2, ::2] = x
    padded = np.pad(up, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="wrap")
    out = sum(padded[:, i:i + 2 * h, j:j + 2 * w] for i in range(3) for j in range(3))
    low, high = out.min((1, 2, 3), keepdims=True), out.max((1, 2, 3), keepdims=True)
    return (0.1 + 0.8 * (out - low) / (high - low)).astype(np.float32)


def _nearest_upsample(x: np.ndarray) -> np.ndarray:
    """2x nearest-neighbour upsampling: every pixel becomes a 2x2 block (the
    spectrum's replicas at half the sampling rate, damped by a sinc, stay)."""
    return np.repeat(np.repeat(x, 2, axis=1), 2, axis=2)


_UPSAMPLERS = {"toy": _checkerboard_upsample, "toy_nearest": _nearest_upsample}


def toy_source(size: int = 32, name: str = "toy") -> Source:
    """Real: smooth colour noise (Gaussian-filtered, sigma 1.5 px). Fake: smooth
    noise at half size (sigma 0.75 px, the same correlation once doubled)
    upsampled 2x, by :func:`_checkerboard_upsample` (``toy``) or
    :func:`_nearest_upsample` (``toy_nearest``): two known upsampling traces.
    A sanity check of the detectors, not a generator of the repository."""
    if size % 2:
        raise ValueError(f"toy images need an even size, got {size}")
    if name not in _UPSAMPLERS:
        raise ValueError(f"toy sources are {', '.join(_UPSAMPLERS)}, got {name!r}")
    upsample = _UPSAMPLERS[name]
    return Source(name,
                  fake=lambda split, seed, n: upsample(
                      _smooth_noise(_rng(split, seed, 1), n, size // 2, 0.75)),
                  real=lambda split, seed, n: _smooth_noise(_rng(split, seed, 0), n, size, 1.5),
                  params={"size": size})


# -- digits and photos -----------------------------------------------------------------------

def _mnist(split: str) -> np.ndarray:
    from data.mnist import load_mnist

    (x_train, _), (x_test, _) = load_mnist()
    return x_train if split == "train" else x_test


def _draw_digits(split: str, seed: int, salt: int, n: int) -> np.ndarray:
    """``n`` distinct uint8 digits ``(n, 28, 28)`` of ``split``; salts pick disjoint subsets."""
    pool = _mnist(split)
    perm = np.random.default_rng([seed, _SALT[split], 99]).permutation(len(pool))
    part = perm[salt::4]  # four disjoint quarters: more than one draw per split never repeats
    if n > len(part):
        raise ValueError(f"{split}: at most {len(part)} digits per draw, asked for {n}")
    return pool[part[:n]]


def _backgrounds(split: str, seed: int, salt: int, n: int) -> np.ndarray:
    from data.mnistm import background_bank

    bank = background_bank(split, seed=seed)
    return bank[_rng(split, seed, 50 + salt).integers(len(bank), size=n)]


def _crops(photos: Sequence[np.ndarray], rng: np.random.Generator, n: int, size: int
           ) -> np.ndarray:
    """``n`` random ``size``-pixel square crops (no resampling) of ``photos``."""
    small = [p.shape[:2] for p in photos if min(p.shape[:2]) < size]
    if small:
        raise ValueError(f"photo crops of {size} px do not fit a {small[0][1]}x{small[0][0]} "
                         f"photo region; use --photo-size {min(small[0])} or less")
    out = np.empty((n, size, size, 3), np.float32)
    for i, k in enumerate(rng.integers(len(photos), size=n)):
        h, w = photos[k].shape[:2]
        top, left = rng.integers(h - size + 1), rng.integers(w - size + 1)
        out[i] = photos[k][top:top + size, left:left + size]
    return out


def _photo_regions(split: str) -> list[np.ndarray]:
    """Content photos of ``split``: the training photos of :mod:`data.photos`,
    or its held-out ones (Grace Hopper, the astronaut), at most 512 px."""
    from data.images import load_image
    from data.photos import HELD_OUT, photo_path, training_files

    files = training_files() if split == "train" else [str(photo_path(n)) for n in HELD_OUT]
    return [load_image(f, max_side=512) for f in files]


# -- sources from trained runs ---------------------------------------------------------------

def run_kind(run_dir: str | os.PathLike) -> str:
    """Which package trained ``run_dir``: ``gan`` (python -m cogan), ``cyclegan``,
    ``stargan`` or ``fast-style`` (python -m nst.fast), read from its
    ``options.json``; ValueError naming the folder otherwise."""
    path = Path(run_dir) / "options.json"
    try:
        options = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{run_dir}: not a training run (no readable options.json: "
                         f"{exc.__class__.__name__})") from None
    model = str(options.get("model", ""))
    if model in ("dcgan", "cogan", "cgan"):
        return "gan"
    if model in ("cyclegan", "pix2pix"):
        return "cyclegan"
    if model.startswith("nst.fast"):
        return "fast-style"
    if "n_critic" in options and "conditioning" in options:
        return "stargan"
    raise ValueError(f"{run_dir}: not a run of cogan, cyclegan, stargan or nst.fast "
                     f"(options.json model={model!r})")


def _gan_source(run_dir: Path) -> Source:
    import tensorflow as tf

    from cogan.config import config_from_run
    from cogan.train import build_model
    from core.loop import Run
    from data.mnist import DOMAIN_TRANSFORMS

    config = config_from_run(run_dir)
    if (config.image_size, config.channels) != (28, 1):
        raise ValueError(f"{run_dir}: only MNIST runs (28 px, 1 channel) have real images "
                         "here")
    model = build_model(config)
    step = Run(run_dir, dataclasses.asdict(config), trackables={"model": model}).restore_weights()
    pair = config.model != "dcgan"

    def fake(split, seed, n):
        z = _rng(split, seed, 1).uniform(-1.0, 1.0, (n, model.noise_dim)).astype(np.float32)
        out = [model.generate(tf.constant(z[i:i + 256]), training=False)
               for i in range(0, n, 256)]
        if pair:  # half from each domain's head
            first = np.concatenate([np.asarray(o[0]) for o in out])
            second = np.concatenate([np.asarray(o[1]) for o in out])
            return _rgb(np.concatenate([first[:n - n // 2], second[n - n // 2:]]))
        return _rgb(np.concatenate([np.asarray(o) for o in out]))

    def real(split, seed, n):
        x = _draw_digits(split, seed, 0, n)[..., None].astype(np.float32) / 255.0
        if pair:
            cut = n - n // 2
            x[cut:] = np.asarray(DOMAIN_TRANSFORMS[config.task](tf.constant(x[cut:])))
        return _rgb(x)

    return Source(config.model, fake, real, params={"run": str(run_dir), "step": step,
                                                    "model": config.model, "task": config.task})


def _cyclegan_source(run_dir: Path, photo_size: int) -> Source:
    from cyclegan.infer import run_generator
    from cyclegan.train import load_run
    from data import samples
    from data.mnistm import mnist32, mnistm_render, photo_bank

    config, nets, step = load_run(run_dir)
    data = config.data

    if data in ("mnist_mnistm", "mnistm_to_mnist"):
        def domain(split, seed, salt, n, mnistm):
            digits = _draw_digits(split, seed, salt, n)
            if mnistm:
                return mnistm_render(digits, _backgrounds(split, seed, salt, n)).numpy()
            return mnist32(digits).numpy()
        to_mnistm = data == "mnist_mnistm"
        inputs = lambda split, seed, n: domain(split, seed, 1, n, not to_mnistm)  # noqa: E731
        real = lambda split, seed, n: domain(split, seed, 0, n, to_mnistm)  # noqa: E731
    elif data in ("gray_photo", "photo_painting"):
        size = photo_size

        def photos(split, names):  # full size: the test regions are too small at half size
            return photo_bank(names, split=split, scale=1.0)

        def inputs(split, seed, n):
            x = _crops(photos(split, samples.CONTENT), _rng(split, seed, 1), n, size)
            if data == "gray_photo":  # as data.mnistm's stream: BT.601 luma as RGB
                from .spectral import luma

                return np.repeat(luma(x)[..., None], 3, axis=-1).astype(np.float32)
            return x

        def real(split, seed, n):
            names = samples.CONTENT if data == "gray_photo" else samples.STYLE
            return _crops(photos(split, names), _rng(split, seed, 0), n, size)
    else:
        raise ValueError(f"{run_dir}: data={data!r} runs are not supported yet (built-in "
                         "mnist_mnistm, mnistm_to_mnist, gray_photo and photo_painting are)")

    def fake(split, seed, n):
        return np.clip(run_generator(nets.g, inputs(split, seed, n), batch_size=64), 0.0, 1.0)

    return Source(config.model, fake, real, params={"run": str(run_dir), "step": step,
                                                    "model": config.model, "data": data})


def _stargan_source(run_dir: Path) -> Source:
    from data.digit_attributes import ATTRIBUTES, render_attributes
    from stargan.train import load_run, translate

    config, nets, step, names = load_run(run_dir)
    if config.data != "digits":
        raise ValueError(f"{run_dir}: only digit runs are supported here (data={config.data!r})")
    k = len(ATTRIBUTES)

    def render(split, seed, salt, n):
        rng = _rng(split, seed, 10 + salt)
        attrs = rng.integers(0, 2, size=(n, k)).astype(np.float32)
        digits = _draw_digits(split, seed, salt, n)
        return render_attributes(digits, attrs, _backgrounds(split, seed, salt, n)).numpy(), attrs

    def fake(split, seed, n):
        images, attrs = render(split, seed, 1, n)
        flips = _rng(split, seed, 20).integers(0, 2, size=(n, k))
        flips[flips.sum(1) == 0, 0] = 1  # every target differs from the source domain
        return translate(nets.g, images, np.abs(attrs - flips).astype(np.float32))

    return Source("stargan", fake, lambda split, seed, n: render(split, seed, 0, n)[0],
                  params={"run": str(run_dir), "step": step})


def _fast_style_source(run_dir: Path, photo_size: int) -> Source:
    from nst.fast.train import load_run
    from nst.fast.transformer import stylize_array

    config, net, step = load_run(run_dir)

    def draw(split, seed, salt, n):
        return _crops(_photo_regions(split), _rng(split, seed, salt), n, photo_size)

    def fake(split, seed, n):
        x = draw(split, seed, 1, n)
        return np.concatenate([np.clip(stylize_array(net, x[i:i + 32]), 0, 1)
                               for i in range(0, n, 32)])

    return Source("nst_fast", fake, lambda split, seed, n: draw(split, seed, 0, n),
                  params={"run": str(run_dir), "step": step, "style": str(config.style)})


def parse_run_spec(text: str) -> tuple[str | None, str]:
    """``"NAME=RUN"`` -> ``(NAME, RUN)``; a plain ``"RUN"`` (or one whose
    NAME would hold a ``/``) -> ``(None, RUN)``."""
    name, eq, run = text.partition("=")
    if eq and name and "/" not in name and run:
        return name, run
    return None, text


def source_from_run(run_dir: str | os.PathLike, *, name: str | None = None,
                    photo_size: int = 64) -> Source:
    """The :class:`Source` of a trained run (see :func:`run_kind`), its newest
    checkpoint loaded; ``name`` overrides the generator's folder name (default:
    the run's model: dcgan, cogan, cgan, cyclegan, pix2pix, stargan,
    nst_fast). Photo domains are cut in ``photo_size`` crops."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ValueError(f"{run_dir}: run folder not found")
    kind = run_kind(run_dir)
    if kind == "gan":
        source = _gan_source(run_dir)
    elif kind == "cyclegan":
        source = _cyclegan_source(run_dir, photo_size)
    elif kind == "stargan":
        source = _stargan_source(run_dir)
    else:
        source = _fast_style_source(run_dir, photo_size)
    return dataclasses.replace(source, name=name) if name else source


def builtin_dcgan_run(steps: int = 3000, seed: int = 0, show_progress: bool = True) -> Path:
    """A DCGAN (``python -m cogan``'s, default width) trained for ``steps`` on
    MNIST, once, in the project cache (``detect/dcgan_<steps>_s<seed>``): an
    interrupted training resumes. About 2.5 minutes for 3000 steps on 2 cores."""
    from cogan.config import TrainConfig
    from cogan.train import train
    from data.cache import cache_dir

    run_dir = cache_dir("detect") / f"dcgan_{steps}_s{seed}"
    config = TrainConfig(run_dir=str(run_dir), model="dcgan", steps=steps, seed=seed,
                         sample_every=steps, checkpoint_every=min(steps, 500))
    train(config, show_progress=show_progress)
    return run_dir


def builtin_source(name: str, *, dcgan_steps: int = 3000, seed: int = 0,
                   show_progress: bool = True) -> Source:
    """``toy`` or ``toy_nearest`` (:func:`toy_source`) or ``dcgan``
    (:func:`builtin_dcgan_run`'s run)."""
    if name in _UPSAMPLERS:
        return toy_source(name=name)
    if name == "dcgan":
        run = builtin_dcgan_run(dcgan_steps, seed, show_progress)
        return dataclasses.replace(source_from_run(run), name="dcgan")
    raise ValueError(f"unknown built-in source {name!r}; expected one of {', '.join(BUILTINS)}")


# -- writing and reading ---------------------------------------------------------------------

def _write_real(path: Path, image: np.ndarray) -> None:
    from PIL import Image

    from data.cache import atomic_path
    from data.images import to_uint8

    with atomic_path(path) as tmp:
        Image.fromarray(to_uint8(image), mode="RGB").save(tmp, format="PNG")


def _check_batch(images: np.ndarray, n: int, what: str) -> np.ndarray:
    x = np.asarray(images, np.float32)
    if x.ndim != 4 or x.shape[0] != n or x.shape[-1] != 3:
        raise ValueError(f"{what}: expected ({n}, H, W, 3) images, got shape {x.shape}")
    return x


def build_dataset(root: str | os.PathLike, sources: Iterable[Source], *, n_train: int,
                  n_test: int, seed: int = 0, show_progress: bool = True) -> dict[str, Any]:
    """Write ``n_train`` / ``n_test`` real and as many fake images per source
    under ``root`` (layout in the module docstring); return what was built
    per generator. A generator whose ``build.json`` (written last) records
    the same settings is kept as it is; one built with other settings raises
    ValueError (choose another ``root``), so nothing already there is
    replaced by something different. Reruns with the same seed write the
    same pixels."""
    from tqdm.auto import tqdm

    from data.images import save_image

    root = Path(root)
    summary = {}
    for source in sources:
        folder = root / source.name
        record = {"generator": source.name, "params": json.loads(json.dumps(
            dict(source.params), default=str)), "n_train": n_train, "n_test": n_test,
            "seed": seed, "source_type": source.source_type}
        done = folder / "build.json"
        if done.is_file():
            try:
                old = json.loads(done.read_text())
            except json.JSONDecodeError:
                old = None
            if old == record:
                summary[source.name] = dict(record, status="kept")
                continue
            raise ValueError(f"{folder}: already built with other settings (see its "
                             "build.json); choose another --out")
        bar = tqdm(total=2 * (n_train + n_test), desc=f"build {source.name}", unit="image",
                   disable=not show_progress)
        for split, n in (("train", n_train), ("test", n_test)):
            for label, draw in (("real", source.real), ("fake", source.fake)):
                images = _check_batch(draw(split, seed, n), n, f"{source.name} {split} {label}")
                out = folder / split / label
                out.mkdir(parents=True, exist_ok=True)
                for i, image in enumerate(images):
                    path = out / f"{i:05d}.png"
                    if label == "real":
                        _write_real(path, image)
                    else:
                        save_image(path, image, generator=source.name,
                                   params=dict(record["params"], split=split, index=i, seed=seed),
                                   source_type=source.source_type)
                    bar.update(1)
        bar.close()
        from data.cache import atomic_path

        with atomic_path(done) as tmp:
            tmp.write_text(json.dumps(record, indent=2) + "\n")
        summary[source.name] = dict(record, status="built")
    return summary


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.suffix.lower() in _IMAGE_SUFFIXES and not p.name.startswith("."))


def generators_in(root: str | os.PathLike) -> list[str]:
    """The generator folders of a dataset (those with ``train`` or ``test``
    subfolders), sorted; ValueError naming ``root`` when there are none."""
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"{root}: dataset folder not found")
    names = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")
                   and any((p / s).is_dir() for s in SPLITS))
    if not names:
        raise ValueError(f"{root}: no generator folders (expected ROOT/<generator>/"
                         "{train,test}/{real,fake}/*.png)")
    return names


@dataclass
class Split:
    """One generator's images of one split: ``images`` (list of ``(H, W, 3)``
    float32 in [0, 1]), ``labels`` ``(N,)`` int (1 = fake), ``files``."""

    images: list[np.ndarray]
    labels: np.ndarray
    files: list[str]


def load_split(root: str | os.PathLike, split: str, generators: Sequence[str] | None = None,
               *, skip_bad: bool = False) -> dict[str, Split]:
    """Read ``root/<generator>/<split>/{real,fake}`` for ``generators``
    (default all). A missing folder or an unreadable image raises ValueError
    naming it (``skip_bad``: unreadable images are left out with a warning)."""
    from data.images import check_images, load_image

    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    root = Path(root)
    available = generators_in(root)
    names = list(generators) if generators else available
    unknown = [g for g in names if g not in available]
    if unknown:
        raise ValueError(f"{root}: no generator folder {unknown[0]!r}; it has "
                         f"{', '.join(available)}")
    out = {}
    for name in names:
        files, labels = [], []
        for label, folder_name in enumerate(LABELS):
            folder = root / name / split / folder_name
            if not folder.is_dir():
                raise ValueError(f"{folder}: folder not found (expected ROOT/<generator>/"
                                 "{train,test}/{real,fake}/*.png)")
            found = [str(p) for p in _images_in(folder)]
            if not found:
                raise ValueError(f"{folder}: no images")
            found = check_images(found, skip_bad=skip_bad)
            files += found
            labels += [label] * len(found)
        images = [load_image(f, max_side=None) for f in files]
        out[name] = Split(images, np.asarray(labels, np.int64), files)
    return out


# -- perturbations for robustness ------------------------------------------------------------

def jpeg(images: Sequence[np.ndarray], quality: int = 75) -> list[np.ndarray]:
    """Each image through Pillow's JPEG encoder at ``quality`` (4:2:0 chroma
    subsampling, Pillow's default) and back, float32 in [0, 1]."""
    import io

    from PIL import Image

    from data.images import to_uint8

    out = []
    for image in images:
        buf = io.BytesIO()
        Image.fromarray(to_uint8(image), mode="RGB").save(buf, format="JPEG", quality=quality)
        buf.seek(0)
        with Image.open(buf) as img:
            out.append(np.asarray(img.convert("RGB"), np.float32) / 255.0)
    return out


def downscale(images: Sequence[np.ndarray], factor: int = 2) -> list[np.ndarray]:
    """Each image shrunk by ``factor`` (Pillow's antialiased bilinear filter),
    quantised to 8 bits as a saved file would be."""
    from PIL import Image

    from data.images import to_uint8

    out = []
    for image in images:
        h, w = np.shape(image)[:2]
        small = Image.fromarray(to_uint8(image), mode="RGB").resize(
            (max(1, w // factor), max(1, h // factor)), Image.Resampling.BILINEAR)
        out.append(np.asarray(small, np.float32) / 255.0)
    return out
