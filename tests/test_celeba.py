"""CelebA loader on a small fixture in the aligned-CelebA layout."""

from __future__ import annotations

import re

import numpy as np
import pytest
import tensorflow as tf

from data.celeba import domain_stream, read_attributes, split_by_attribute

NAMES = ["5_o_Clock_Shadow", "Blond_Hair", "Eyeglasses", "Smiling"]


@pytest.fixture
def celeba(tmp_path, rng):
    root = tmp_path / "celeba"
    images = root / "img_align_celeba"
    images.mkdir(parents=True)
    rows = []
    for i in range(1, 7):
        name = f"{i:06d}.jpg"
        blond = 1 if i % 2 else -1
        colour = [250, 220, 80] if blond == 1 else [40, 30, 20]
        pixels = np.tile(np.array(colour, np.uint8), (218, 178, 1))
        (images / name).write_bytes(tf.io.encode_jpeg(pixels).numpy())
        rows.append(f"{name} {-1:2d} {blond:2d} {-1:2d} {1 if i < 4 else -1:2d}")
    (root / "list_attr_celeba.txt").write_text(
        f"{len(rows)}\n{' '.join(NAMES)}\n" + "\n".join(rows) + "\n")
    return root


def test_attributes_and_split(celeba):
    names, rows = read_attributes(celeba / "list_attr_celeba.txt")
    assert names == NAMES and len(rows) == 6
    with_attr, without = split_by_attribute(celeba, "Blond_Hair")
    assert [p.name for p in with_attr] == ["000001.jpg", "000003.jpg", "000005.jpg"]
    assert [p.name for p in without] == ["000002.jpg", "000004.jpg", "000006.jpg"]
    smiling, _ = split_by_attribute(celeba, "Smiling")
    assert len(smiling) == 3


def test_domain_stream_yields_unpaired_face_batches(celeba):
    d1, d2 = next(iter(domain_stream(celeba, "Blond_Hair", image_size=32, batch_size=2)))
    assert d1.shape == d2.shape == (2, 32, 32, 3) and d1.dtype == tf.float32
    # blond fixtures are bright yellow, the others dark brown
    np.testing.assert_allclose(d1.numpy().mean(axis=(0, 1, 2)), [250 / 255, 220 / 255, 80 / 255],
                               atol=0.03)
    assert float(tf.reduce_max(d2)) < 0.25


def test_clear_errors(celeba, tmp_path):
    with pytest.raises(ValueError, match="'Bald' is not in"):
        split_by_attribute(celeba, "Bald")
    with pytest.raises(ValueError, match="attribute file not found. CelebA is not bundled"):
        split_by_attribute(tmp_path / "nowhere", "Smiling")
    bad = tmp_path / "bad.txt"
    bad.write_text("3\nA B\n000001.jpg 1 0\n")
    with pytest.raises(ValueError, match="bad.txt: not a CelebA attribute list"):
        read_attributes(bad)
    with pytest.raises(ValueError, match="source must be"):
        domain_stream(celeba, "Smiling", source="web")


def test_a_corrupt_image_is_named_when_decoded_or_skipped(celeba, capsys):
    """Folders are too big to check up front: a corrupt face stops the stream
    with its path in the error, or, with skip_bad, is counted and left out."""
    bad = celeba / "img_align_celeba" / "000003.jpg"  # one of the three blond faces
    bad.write_bytes(bad.read_bytes()[:300])
    stream = domain_stream(celeba, "Blond_Hair", image_size=16, batch_size=3)
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"{bad}: truncated or corrupt"):
        next(iter(stream))
    stream = domain_stream(celeba, "Blond_Hair", image_size=16, batch_size=2, skip_bad=True)
    batches = iter(stream)
    for _ in range(3):  # every pass over the files meets the corrupt one again
        d1, _ = next(batches)
        np.testing.assert_allclose(d1.numpy().mean(axis=(0, 1, 2)),
                                   [250 / 255, 220 / 255, 80 / 255], atol=0.03)
    err = capsys.readouterr().err
    assert err.count(f"warning: {bad}: truncated or corrupt image data") == 1, err
    assert re.search(r"; skipped \(\d+ unreadable so far\)\n", err)  # counted per process
