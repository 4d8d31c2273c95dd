"""StarGAN's labelled data: domain folders, CelebA attribute labels and the
held-out split, the centre crop against Pillow, exact resume, bad files."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from data import celeba
from data.translation import domain_files, labelled_batch, labelled_stream

NAMES = ["Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"]


def _write(path: Path, array: np.ndarray) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return str(path)


def _flat(colour) -> np.ndarray:
    return np.tile(np.array(colour, np.uint8), (10, 12, 1))


def test_domain_files_one_hot_by_folder(tmp_path):
    for domain, count in (("happy", 2), ("angry", 3), ("neutral", 1)):
        for i in range(count):
            _write(tmp_path / domain / f"{i}.png", _flat([i, 0, 0]))
    _write(tmp_path / ".thumbs" / "x.png", _flat([0, 0, 0]))  # hidden: not a domain
    (tmp_path / "README.txt").write_text("not a domain\n")
    files, labels, names = domain_files(tmp_path)
    assert names == ("angry", "happy", "neutral")
    assert [str(Path(f).relative_to(tmp_path)) for f in files] == [
        "angry/0.png", "angry/1.png", "angry/2.png", "happy/0.png", "happy/1.png", "neutral/0.png"]
    assert labels.dtype == np.float32 and labels.shape == (6, 3)
    expected = np.array([[Path(f).parent.name == n for n in names] for f in files], np.float32)
    np.testing.assert_array_equal(labels, expected)


def test_domain_files_errors(tmp_path):
    with pytest.raises(ValueError, match="nowhere: folder not found"):
        domain_files(tmp_path / "nowhere")
    _write(tmp_path / "happy" / "0.png", _flat([1, 2, 3]))
    with pytest.raises(ValueError, match=r"at least two .*; found only happy/$"):
        domain_files(tmp_path)
    (tmp_path / "angry").mkdir()
    (tmp_path / "angry" / "notes.txt").write_text("no images here\n")
    with pytest.raises(ValueError, match=f"^{tmp_path / 'angry'}: no images"):
        domain_files(tmp_path)


@pytest.fixture
def aligned_celeba(tmp_path, rng):
    """12 faces listed out of order, with random +-1 attributes."""
    root = tmp_path / "celeba"
    values = rng.choice([-1, 1], size=(12, len(NAMES)))
    rows = []
    for i in range(12):
        name = f"{i + 1:06d}.jpg"
        _write(root / "img_align_celeba" / name, _flat([20 * i, 0, 0]))
        rows.append(name + "".join(f" {v:2d}" for v in values[i]))
    order = rng.permutation(12)
    (root / "list_attr_celeba.txt").write_text(
        f"12\n{' '.join(NAMES)}\n" + "\n".join(rows[j] for j in order) + "\n")
    return root, values


def test_attribute_files_labels_and_held_out_split(aligned_celeba, monkeypatch):
    root, values = aligned_celeba
    monkeypatch.setattr(celeba, "HELD_OUT", 4)
    chosen = ["Young", "Black_Hair", "Male"]  # not the file's order
    test_files, test_labels = celeba.attribute_files(root, chosen, split="test")
    train_files, train_labels = celeba.attribute_files(root, chosen)
    assert len(test_files) == 4 and len(train_files) == 8
    assert [Path(f).name for f in test_files + train_files] == [f"{i:06d}.jpg" for i in
                                                                 range(1, 13)]
    assert Path(test_files[0]).parent == root / "img_align_celeba"
    cols = [NAMES.index(a) for a in chosen]
    expected = np.where(values[:, cols] == 1, 1.0, 0.0)
    assert test_labels.dtype == train_labels.dtype == np.float32
    np.testing.assert_array_equal(np.concatenate([test_labels, train_labels]), expected)


def test_attribute_files_errors(aligned_celeba, tmp_path, monkeypatch):
    root, _ = aligned_celeba
    with pytest.raises(ValueError) as err:
        celeba.attribute_files(root, ["Blond_Hair", "Smiling"])
    message = str(err.value)
    assert f"'Smiling' is not in {root / 'list_attr_celeba.txt'}" in message
    assert all(name in message for name in NAMES)
    with pytest.raises(ValueError, match="nowhere: CelebA folder not found. CelebA is not bundled"):
        celeba.attribute_files(tmp_path / "nowhere", ["Male"])
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        celeba.attribute_files(root, ["Male"], split="val")
    monkeypatch.setattr(celeba, "HELD_OUT", 12)
    with pytest.raises(ValueError, match="none left for training"):
        celeba.attribute_files(root, ["Male"])


def _pillow_crop_resize(array: np.ndarray, crop: int, size: int) -> np.ndarray:
    """Centre square of side min(crop, h, w), bilinear resize, per channel in float."""
    h, w = array.shape[:2]
    side = min(crop, h, w)
    top, left = (h - side) // 2, (w - side) // 2
    channels = [np.asarray(Image.fromarray(array[..., c].astype(np.float32) / 255.0, "F")
                           .crop((left, top, left + side, top + side))
                           .resize((size, size), Image.BILINEAR)) for c in range(3)]
    return np.stack(channels, -1)


@pytest.mark.parametrize("crop, size", [(24, 12), (100, 45)])  # shrink; crop > image, enlarge
def test_centre_crop_and_resize_match_pillow(tmp_path, rng, crop, size):
    image = rng.integers(0, 256, (40, 30, 3), dtype=np.uint8)  # portrait, like aligned CelebA
    path = _write(tmp_path / "face.png", image)
    images, labels = labelled_batch([path], np.array([[1.0, 0.0]]), image_size=size,
                                    crop_size=crop)
    assert images.shape == (1, size, size, 3) and images.dtype == np.float32
    np.testing.assert_allclose(images[0], _pillow_crop_resize(image, crop, size), atol=1e-5)
    np.testing.assert_array_equal(labels, [[1.0, 0.0]])


@pytest.fixture
def five_files(tmp_path, rng):
    """Five asymmetric images, told apart by their mean red level, each with its own label."""
    files = []
    for i in range(5):
        image = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
        image[..., 0] = 40 * i + 20
        image[:, :4, 1] = 255  # a stripe on the left: mirroring shows
        files.append(_write(tmp_path / f"{i}.png", image))
    labels = np.eye(5, dtype=np.float32)[[2, 0, 4, 1, 3]]
    return files, labels


def _which(images: np.ndarray) -> list[int]:
    return [int(round((m * 255 - 20) / 40)) for m in images[..., 0].mean(axis=(1, 2))]


def test_stream_walks_permutations_and_resumes_exactly(five_files):
    files, labels = five_files
    kw = dict(batch_size=5, image_size=16, crop_size=16, seed=3)
    batches = [(x.numpy(), c.numpy()) for x, c in labelled_stream(files, labels, **kw).take(4)]
    for images, rows in batches:  # a batch of 5 is one epoch: every file once, with its label
        which = _which(images)
        assert sorted(which) == [0, 1, 2, 3, 4]
        np.testing.assert_array_equal(rows, labels[which])
    assert len({tuple(_which(b[0])) for b in batches}) > 1  # a new order per epoch
    resumed = [(x.numpy(), c.numpy()) for x, c in
               labelled_stream(files, labels, start_step=2, **kw).take(2)]
    for (x, c), (rx, rc) in zip(batches[2:], resumed):
        np.testing.assert_array_equal(rx, x)
        np.testing.assert_array_equal(rc, c)
    other = next(iter(labelled_stream(files, labels, shard=1, **kw)))[0].numpy()
    assert _which(other) != _which(batches[0][0])


def test_flip_is_random_or_off(five_files):
    files, labels = five_files
    reference, _ = labelled_batch(files, labels, image_size=16, crop_size=16)
    np.testing.assert_allclose(reference[:, :, :4, 1], 1.0)  # unmirrored: stripe on the left
    kw = dict(batch_size=10, image_size=16, crop_size=16, seed=1)
    plain = [x.numpy() for x, _ in labelled_stream(files, labels, flip=False, **kw).take(2)]
    again = [x.numpy() for x, _ in labelled_stream(files, labels, flip=False, **kw).take(2)]
    np.testing.assert_array_equal(np.stack(plain), np.stack(again))
    for image in np.concatenate(plain):
        np.testing.assert_allclose(image, reference[_which(image[None])[0]], atol=1e-6)
    mirrored = 0
    for image in np.concatenate([x.numpy() for x, _ in labelled_stream(files, labels, **kw)
                                 .take(2)]):
        ref = reference[_which(image[None])[0]]
        if np.allclose(image, ref[:, ::-1], atol=1e-6):
            mirrored += 1
        else:
            np.testing.assert_allclose(image, ref, atol=1e-6)
    assert 0 < mirrored < 20


def test_bad_file_is_named_or_skipped_with_its_label(five_files, tmp_path, capsys):
    files, labels = five_files
    bad = tmp_path / "broken.png"
    bad.write_text("not an image\n")
    files = files[:2] + [str(bad)] + files[2:]
    labels = np.concatenate([labels[:2], [[9, 9, 9, 9, 9]], labels[2:]]).astype(np.float32)
    kw = dict(image_size=8, crop_size=16)
    with pytest.raises(ValueError, match=f"^{bad}: not a recognised image.*--skip-bad-images"):
        labelled_stream(files, labels, batch_size=2, **kw)
    with pytest.raises(ValueError, match=f"^{bad}: not a recognised image"):
        labelled_batch(files, labels, **kw)
    stream = labelled_stream(files, labels, batch_size=5, skip_bad=True, **kw)
    assert f"skipped 1 of 6 images that could not be read: {bad.name}" in capsys.readouterr().err
    for images, rows in stream.take(2):
        which = _which(images.numpy())
        assert sorted(which) == [0, 1, 2, 3, 4]
        np.testing.assert_array_equal(rows.numpy(), labels[[w + (w >= 2) for w in which]])
    with pytest.raises(ValueError, match=r"labels must be \(N, C\) with one row per file"):
        labelled_stream(files, labels[:3], batch_size=2, **kw)


@pytest.mark.skipif(importlib.util.find_spec("tensorflow_datasets") is not None,
                    reason="tensorflow-datasets is installed (would download CelebA)")
def test_tfds_source_without_the_package_says_what_to_do():
    with pytest.raises(ValueError, match="pip install tensorflow-datasets.*CelebA is not bundled"):
        celeba.tfds_attribute_stream(["Male"], batch_size=2, image_size=16)
