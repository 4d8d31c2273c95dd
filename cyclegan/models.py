"""Generators for image-to-image translation (Keras 3 functional models).

Images are NHWC in [-1, 1] (tanh outputs).

- :func:`unet_generator`: the pix2pix U-Net (TensorFlow tutorial / junyanz
  ``unet_256``): ``num_downs`` stride-2 4x4 convolutions down to a
  ``H / 2**num_downs`` bottleneck, transposed convolutions back up with skip
  connections, dropout 0.5 on the three innermost up blocks; instance norm
  on every down block but the first and the last (junyanz's layout). ``num_downs=8``
  at 256 px reaches 1x1 (the tutorial); 7 at 128 px. Input sides must be
  multiples of ``2**num_downs``.
- :func:`resnet_generator`: the CycleGAN paper's (Johnson et al. layout):
  reflection pad + 7x7 conv, two stride-2 downsamples, ``n_blocks`` residual
  blocks (6 for 128 px, 9 for 256 px in the paper), two transposed-conv
  upsamples, 7x7 conv + tanh. Input sides must be multiples of 4.

Both use instance norm and normal(0, 0.02) init; ``ngf`` is the first
layer's channel count (64 in the papers; smaller for CPU demos).
"""

from __future__ import annotations

import keras
from keras import layers

from core.layers import InstanceNormalization, ReflectionPadding2D, normal_init

# defined TF-free beside the options, which check image sizes with them
from .config import GENERATOR_NAMES as GENERATORS, size_multiple, unet_depth

__all__ = ["GENERATORS", "build_generator", "resnet_generator", "size_multiple",
           "unet_generator"]


def _tanh_f32(x, dtype):
    x = layers.Activation("tanh", dtype=dtype)(x)
    return layers.Activation("linear", dtype="float32", name="image_f32")(x)


def unet_generator(in_channels: int = 3, out_channels: int = 3, *, ngf: int = 64,
                   num_downs: int = 8, dropout: float = 0.5, dtype=None,
                   name: str = "unet") -> keras.Model:
    """U-Net ``(B, H, W, in_channels) -> (B, H, W, out_channels)``; H, W
    multiples of ``2**num_downs``."""
    if num_downs < 2:
        raise ValueError(f"num_downs must be >= 2, got {num_downs}")
    inp = keras.Input((None, None, in_channels), name="image")
    x, skips = inp, []
    for i in range(num_downs):
        filters = ngf * min(2 ** i, 8)
        x = layers.Conv2D(filters, 4, strides=2, padding="same", use_bias=False,
                          kernel_initializer=normal_init(), dtype=dtype, name=f"down{i + 1}")(x)
        # no norm on the outermost layer (the tutorial's apply_norm=False) nor on
        # the innermost (junyanz): instance norm over a 1x1 bottleneck would
        # replace every feature by its offset and cut the bottleneck off
        if 0 < i < num_downs - 1:
            x = InstanceNormalization(dtype=dtype, name=f"down{i + 1}_norm")(x)
        x = layers.LeakyReLU(0.2, dtype=dtype)(x)
        skips.append(x)
    skips = skips[-2::-1]  # innermost skip first, the bottleneck itself excluded
    for i, skip in enumerate(skips):
        filters = ngf * min(2 ** (num_downs - 2 - i), 8)
        x = layers.Conv2DTranspose(filters, 4, strides=2, padding="same", use_bias=False,
                                   kernel_initializer=normal_init(), dtype=dtype,
                                   name=f"up{i + 1}")(x)
        x = InstanceNormalization(dtype=dtype, name=f"up{i + 1}_norm")(x)
        if i < 3 and dropout:
            x = layers.Dropout(dropout, dtype=dtype)(x)
        x = layers.ReLU(dtype=dtype)(x)
        x = layers.Concatenate(dtype=dtype)([x, skip])
    x = layers.Conv2DTranspose(out_channels, 4, strides=2, padding="same",
                               kernel_initializer=normal_init(), dtype=dtype, name="out")(x)
    return keras.Model(inp, _tanh_f32(x, dtype), name=name)


def _residual_block(x, filters: int, dtype, name: str):
    h = ReflectionPadding2D(1, dtype=dtype)(x)
    h = layers.Conv2D(filters, 3, use_bias=False, kernel_initializer=normal_init(), dtype=dtype,
                      name=f"{name}_conv1")(h)
    h = InstanceNormalization(dtype=dtype, name=f"{name}_norm1")(h)
    h = layers.ReLU(dtype=dtype)(h)
    h = ReflectionPadding2D(1, dtype=dtype)(h)
    h = layers.Conv2D(filters, 3, use_bias=False, kernel_initializer=normal_init(), dtype=dtype,
                      name=f"{name}_conv2")(h)
    h = InstanceNormalization(dtype=dtype, name=f"{name}_norm2")(h)
    return layers.Add(dtype=dtype)([x, h])


def resnet_generator(in_channels: int = 3, out_channels: int = 3, *, ngf: int = 64,
                     n_blocks: int = 9, dtype=None, name: str = "resnet") -> keras.Model:
    """ResNet generator ``(B, H, W, in_channels) -> (B, H, W, out_channels)``;
    H, W multiples of 4."""
    inp = keras.Input((None, None, in_channels), name="image")
    x = ReflectionPadding2D(3, dtype=dtype)(inp)
    x = layers.Conv2D(ngf, 7, use_bias=False, kernel_initializer=normal_init(), dtype=dtype,
                      name="stem")(x)
    x = InstanceNormalization(dtype=dtype, name="stem_norm")(x)
    x = layers.ReLU(dtype=dtype)(x)
    for i, filters in enumerate((ngf * 2, ngf * 4)):
        x = layers.Conv2D(filters, 3, strides=2, padding="same", use_bias=False,
                          kernel_initializer=normal_init(), dtype=dtype, name=f"down{i + 1}")(x)
        x = InstanceNormalization(dtype=dtype, name=f"down{i + 1}_norm")(x)
        x = layers.ReLU(dtype=dtype)(x)
    for i in range(n_blocks):
        x = _residual_block(x, ngf * 4, dtype, f"block{i + 1}")
    for i, filters in enumerate((ngf * 2, ngf)):
        x = layers.Conv2DTranspose(filters, 3, strides=2, padding="same", use_bias=False,
                                   kernel_initializer=normal_init(), dtype=dtype,
                                   name=f"up{i + 1}")(x)
        x = InstanceNormalization(dtype=dtype, name=f"up{i + 1}_norm")(x)
        x = layers.ReLU(dtype=dtype)(x)
    x = ReflectionPadding2D(3, dtype=dtype)(x)
    x = layers.Conv2D(out_channels, 7, kernel_initializer=normal_init(), dtype=dtype, name="out")(x)
    return keras.Model(inp, _tanh_f32(x, dtype), name=name)


def build_generator(kind: str, image_size: int, *, in_channels: int = 3, out_channels: int = 3,
                    ngf: int = 64, dtype=None, name: str = "generator") -> keras.Model:
    """``kind``: ``"unet"`` (depth from ``image_size``), ``"resnet6"`` or ``"resnet9"``."""
    if kind == "unet":
        return unet_generator(in_channels, out_channels, ngf=ngf, num_downs=unet_depth(image_size),
                              dtype=dtype, name=name)
    if kind in ("resnet6", "resnet9"):
        return resnet_generator(in_channels, out_channels, ngf=ngf, n_blocks=int(kind[-1]),
                                dtype=dtype, name=name)
    raise ValueError(f"generator must be one of {GENERATORS}, got {kind!r}")
