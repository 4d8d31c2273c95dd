"""Fast stylisation through the TF-Hub loading path, on a small SavedModel with
the Magenta signature model(content, style) -> [stylised]."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from nst.fast import HubModelUnavailable, fast_stylize, load_arbitrary_stylization


class TinyStylizer(tf.Module):
    """Output = content mixed half-and-half with the style's mean colour."""

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32),
                                  tf.TensorSpec([None, None, None, 3], tf.float32)])
    def __call__(self, content, style):
        mean = tf.reduce_mean(style, axis=[1, 2], keepdims=True)
        return [0.5 * content + 0.5 * mean]


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("hub") / "tiny_stylizer"
    tf.saved_model.save(TinyStylizer(), str(path))
    return path


def test_loads_and_calls_like_magenta(saved_model, rng):
    model = load_arbitrary_stylization(saved_model)
    content = rng.random((20, 30, 3)).astype(np.float32)
    style = np.zeros((64, 64, 3), np.float32)
    style[..., 2] = 1.0  # pure blue: its mean survives the resize to 256x256
    out = fast_stylize(model, content, style)
    assert out.shape == (20, 30, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out, 0.5 * content + 0.5 * np.array([0, 0, 1.0]), atol=1e-5)


def test_unavailable_model_names_handle(tmp_path):
    missing = tmp_path / "no_such_model"
    with pytest.raises(HubModelUnavailable, match="no_such_model: could not load"):
        load_arbitrary_stylization(missing)


def test_bad_image_shape(saved_model):
    model = load_arbitrary_stylization(saved_model)
    with pytest.raises(ValueError, match=r"shape \(H, W, 3\)"):
        fast_stylize(model, np.zeros((4, 4)), np.zeros((4, 4, 3)))
