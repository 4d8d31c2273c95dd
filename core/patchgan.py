"""The PatchGAN discriminator (Isola et al. 2017), shared by pix2pix and
CycleGAN.

With ``n_layers=3`` each output logit sees a 70x70 patch of the input: a
256x256 image gives a 30x30 grid of logits, a 128x128 image 14x14 (the
pix2pix tutorial's and junyanz's ``basic`` discriminator). Layout: ``n_layers``
stride-2 4x4 convolutions (``ndf, 2 ndf, 4 ndf, ...``, capped at ``8 ndf``;
no norm on the first), one stride-1 4x4 convolution, then a 4x4 convolution
to one logit channel; LeakyReLU(0.2) and instance norm between.
"""

from __future__ import annotations

import keras
from keras import layers

from .layers import InstanceNormalization, normal_init

__all__ = ["patchgan_discriminator", "patchgan_receptive_field"]


def patchgan_receptive_field(n_layers: int = 3) -> int:
    """Side in pixels of the input patch one output logit sees (70 for 3)."""
    field = 1
    for stride in [1, 1] + [2] * n_layers:  # from the output back to the input
        field = (field - 1) * stride + 4
    return field


def patchgan_discriminator(channels: int = 3, *, ndf: int = 64, n_layers: int = 3,
                           condition_channels: int = 0, norm: str = "instance", dtype=None,
                           name: str = "patchgan") -> keras.Model:
    """PatchGAN: ``(B, H, W, channels)`` in [-1, 1] -> logits ``(B, h, w, 1)``.

    ``condition_channels > 0`` makes the pix2pix conditional discriminator:
    it takes ``[condition, image]`` and concatenates them on channels.
    ``dtype``: a Keras dtype policy for the layers (e.g. ``"mixed_bfloat16"``);
    logits are returned in float32. ``norm``: ``"instance"`` (the papers) or
    ``"none"`` (junyanz's ``--norm none``; instance norm makes every logit
    depend a little on every pixel through the statistics).
    """
    if norm not in ("instance", "none"):
        raise ValueError(f"norm must be 'instance' or 'none', got {norm!r}")
    image = keras.Input((None, None, channels), name="image")
    inputs = [image]
    x = image
    if condition_channels:
        cond = keras.Input((None, None, condition_channels), name="condition")
        inputs = [cond, image]
        x = layers.Concatenate(dtype=dtype)([cond, image])
    filters = ndf
    for i in range(n_layers):
        filters = ndf * min(2 ** i, 8)
        x = layers.Conv2D(filters, 4, strides=2, padding="same", use_bias=i == 0,
                          kernel_initializer=normal_init(), dtype=dtype, name=f"down{i + 1}")(x)
        if i and norm == "instance":
            x = InstanceNormalization(dtype=dtype, name=f"down{i + 1}_norm")(x)
        x = layers.LeakyReLU(0.2, dtype=dtype)(x)
    x = layers.ZeroPadding2D(dtype=dtype)(x)
    x = layers.Conv2D(ndf * min(2 ** n_layers, 8), 4, use_bias=False, kernel_initializer=normal_init(),
                      dtype=dtype, name="conv")(x)
    if norm == "instance":
        x = InstanceNormalization(dtype=dtype, name="conv_norm")(x)
    x = layers.LeakyReLU(0.2, dtype=dtype)(x)
    x = layers.ZeroPadding2D(dtype=dtype)(x)
    x = layers.Conv2D(1, 4, kernel_initializer=normal_init(), dtype=dtype, name="logits")(x)
    x = layers.Activation("linear", dtype="float32", name="logits_f32")(x)
    return keras.Model(inputs if condition_channels else image, x, name=name)
