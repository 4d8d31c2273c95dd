"""The image transformation network of Johnson et al. 2016 (Keras 3).

``build_transformer(width)``: ``(B, H, W, 3)`` float RGB in [0, 1] ->
``(B, H, W, 3)`` float32 in [0, 1], any ``H, W >= MIN_SIDE`` (odd sizes too).
Layers, in the paper's notation with ``width`` = 1 (channels scale with it):

    c9s1-32, d64, d128, R128 x 5, u64, u32, c9s1-3

- ``c9s1-k``: 9x9 convolution, stride 1; ``dk``: 3x3 convolution, stride 2;
  every convolution but the last is followed by instance normalisation
  (Ulyanov et al. 2016, as in the paper's supplement) and ReLU, and has no
  bias (the norm's ``beta`` is one).
- ``Rk``: residual block ``x + IN(conv3(ReLU(IN(conv3(x)))))`` (no ReLU after
  the sum, as in pytorch/examples' fast_neural_style).
- ``uk``: resize-then-convolve, nearest-neighbour x2 then a 3x3 convolution
  (Odena et al. 2016: no checkerboard artefacts, unlike the paper's
  fractionally strided convolutions).
- Reflection padding before every convolution (no dark borders); the input is
  first reflection-padded at the bottom and right to a multiple of 4 (the two
  stride-2 stages) and the output cropped back to ``H x W``.
- The output is ``sigmoid`` of the last convolution, so it lies in [0, 1]
  by construction and the loss network scores exactly the image that is
  saved: no clipping whose zero gradient would hide out-of-range pixels.
  (The paper's scaled tanh is the same function: ``(tanh(z/2) + 1) / 2 =
  sigmoid(z)``.)

Under a ``mixed_bfloat16`` policy the layers compute in bf16 with float32
weights; instance-norm statistics and the output are float32.
"""

from __future__ import annotations

import weakref

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from core.layers import InstanceNormalization, ReflectionPadding2D

__all__ = ["BASE_CHANNELS", "MIN_SIDE", "CropTo", "PadToMultiple", "build_transformer",
           "channels", "stylize_array"]

#: channels of c9s1, d, d (and of the residual blocks) at ``width=1``
BASE_CHANNELS = (32, 64, 128)
#: smallest input side: padded to 8, whose 9x9 reflection padding (4 px) needs >= 5
MIN_SIDE = 5
_RESIDUAL_BLOCKS = 5


@keras.saving.register_keras_serializable(package="deepfake_lab")
class PadToMultiple(layers.Layer):
    """Reflection-pad H and W at the bottom and right to the next multiple of
    ``multiple`` (edge pixel not repeated, like ``numpy.pad(mode="reflect")``);
    needs sides of at least ``multiple``."""

    def __init__(self, multiple: int = 4, **kwargs):
        super().__init__(**kwargs)
        self.multiple = int(multiple)

    def call(self, x):
        shape = tf.shape(x)
        pad_h = (-shape[1]) % self.multiple
        pad_w = (-shape[2]) % self.multiple
        return tf.pad(x, [[0, 0], [0, pad_h], [0, pad_w], [0, 0]], mode="REFLECT")

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        grow = lambda s: None if s is None else -(-s // self.multiple) * self.multiple  # noqa: E731
        return (b, grow(h), grow(w), c)

    def get_config(self):
        return {**super().get_config(), "multiple": self.multiple}


@keras.saving.register_keras_serializable(package="deepfake_lab")
class CropTo(layers.Layer):
    """``[x (B, H', W', C), reference (B, H, W, ...)] -> x[:, :H, :W]``."""

    def call(self, inputs):
        x, reference = inputs
        shape = tf.shape(reference)
        return x[:, :shape[1], :shape[2], :]

    def compute_output_shape(self, input_shape):
        (b, _, _, c), (_, h, w, _) = input_shape
        return (b, h, w, c)


def channels(width: float) -> tuple[int, int, int]:
    """The three channel counts of the network at ``width`` (>= 1 each)."""
    return tuple(max(1, round(c * float(width))) for c in BASE_CHANNELS)


def _conv_norm_relu(x, filters: int, kernel: int, stride: int, dtype, name: str, relu=True):
    x = ReflectionPadding2D(kernel // 2, dtype=dtype, name=f"{name}_pad")(x)
    x = layers.Conv2D(filters, kernel, strides=stride, use_bias=False, dtype=dtype,
                      name=f"{name}_conv")(x)
    x = InstanceNormalization(dtype=dtype, name=f"{name}_in")(x)
    return layers.ReLU(dtype=dtype, name=f"{name}_relu")(x) if relu else x


def build_transformer(width: float = 1.0, *, dtype: str | None = None,
                      name: str = "transformer") -> keras.Model:
    """The image transformation network (see the module docstring).

    Args:
      width: channel multiplier; 1 is the paper's 32-64-128, 0.5 halves
        every layer (a quarter of the weights and of the compute).
      dtype: Keras dtype policy (``"float32"``, ``"mixed_bfloat16"``); None:
        the global one.
    """
    if not float(width) > 0:
        raise ValueError(f"width must be > 0, got {width!r}")
    c1, c2, c3 = channels(width)
    image = keras.Input((None, None, 3), name="content")
    x = PadToMultiple(4, dtype=dtype, name="pad_to_4")(image)
    x = layers.Rescaling(2.0, -1.0, dtype=dtype, name="to_pm1")(x)  # [0, 1] -> [-1, 1]
    x = _conv_norm_relu(x, c1, 9, 1, dtype, "c9s1")
    x = _conv_norm_relu(x, c2, 3, 2, dtype, "d1")
    x = _conv_norm_relu(x, c3, 3, 2, dtype, "d2")
    for i in range(_RESIDUAL_BLOCKS):
        y = _conv_norm_relu(x, c3, 3, 1, dtype, f"res{i}_a")
        y = _conv_norm_relu(y, c3, 3, 1, dtype, f"res{i}_b", relu=False)
        x = layers.Add(dtype=dtype, name=f"res{i}_add")([x, y])
    for i, filters in enumerate((c2, c1)):
        x = layers.UpSampling2D(2, interpolation="nearest", dtype=dtype, name=f"u{i}_up")(x)
        x = _conv_norm_relu(x, filters, 3, 1, dtype, f"u{i}")
    x = ReflectionPadding2D(4, dtype=dtype, name="out_pad")(x)
    x = layers.Conv2D(3, 9, dtype=dtype, name="out_conv")(x)
    x = layers.Activation("sigmoid", dtype="float32", name="out_sigmoid")(x)
    out = CropTo(dtype="float32", name="crop")([x, image])
    return keras.Model(image, out, name=name)


_INFERENCE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _inference_fn(net: keras.Model):
    """One traced ``tf.function`` per network, any image size (a new one per
    call would retrace every time)."""
    if net not in _INFERENCE:
        ref = weakref.ref(net)  # a strong reference would keep net (the key) alive forever

        @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
        def run(x):
            return ref()(x, training=False)
        _INFERENCE[net] = run
    return _INFERENCE[net]


def stylize_array(net: keras.Model, images) -> np.ndarray:
    """Stylise ``(H, W, 3)`` or ``(N, H, W, 3)`` float images in [0, 1] ->
    float32 of the same shape in [0, 1]; ValueError for another shape or a
    side below :data:`MIN_SIDE`."""
    x = np.asarray(images, np.float32)
    if x.ndim not in (3, 4) or x.shape[-1] != 3:
        raise ValueError(f"content: images must have shape (H, W, 3), got {x.shape}")
    h, w = x.shape[-3:-1]
    if min(h, w) < MIN_SIDE:
        raise ValueError(f"content: sides must be at least {MIN_SIDE} px, got {w}x{h}")
    out = _inference_fn(net)(tf.constant(x if x.ndim == 4 else x[None])).numpy()
    return np.asarray(out if x.ndim == 4 else out[0], np.float32)
