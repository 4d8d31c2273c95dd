"""The swap autoencoder (Keras 3 functional models): one shared encoder, one
decoder per identity. A swap encodes a face of A and decodes it with B's
decoder: the shared code carries pose, expression and lighting, each decoder
adds its identity.

- encoder: ``(B, S, S, 3)`` in [0, 1] -> four stride-2 5x5 convolutions
  (``width`` x 1, 2, 4, 8 channels, LeakyReLU 0.1) to ``S/16`` per side, then
  the bottleneck: ``conv`` (a 3x3 convolution to ``latent`` channels, the
  code is an ``S/16`` map) or ``dense`` (``latent`` units, expanded back to an
  ``S/16`` map of ``8 * width`` channels).
- decoder: four x2 upsamples (3x3 convolution to 4x the channels, then pixel
  shuffle, Shi et al. 2016: no checkerboard of transposed convolutions),
  ``8, 4, 2, 1 x width`` channels, a residual block at the last two scales,
  then 5x5 convolutions to RGB (sigmoid, [0, 1]) and, with ``mask``, a mask
  channel (sigmoid). Output ``(B, S, S, 3 or 4)`` float32. With
  ``shared_stages`` = k > 0 the last k upsampling stages and the output
  layers (the "head") are one network used by both decoders: rendering
  edges and shading is the same job for both identities, so it learns from
  twice the faces.

No skip connections: a U-Net's skips would carry A's identity past the
bottleneck.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import tensorflow as tf
from keras import layers

from .config import DOWNSAMPLES

__all__ = ["Nets", "build_autoencoder", "build_decoder", "build_encoder", "build_head"]


def _act(x, dtype):
    return layers.LeakyReLU(0.1, dtype=dtype)(x)


def _pixel_shuffle(x, channels: int, dtype, name: str):
    x = layers.Conv2D(4 * channels, 3, padding="same", dtype=dtype, name=name)(x)
    x = _act(x, dtype)
    return layers.Lambda(lambda t: tf.nn.depth_to_space(t, 2), dtype=dtype,
                         name=name + "_shuffle")(x)


def _residual(x, dtype, name: str):
    channels = x.shape[-1]
    y = layers.Conv2D(channels, 3, padding="same", dtype=dtype, name=name + "_a")(x)
    y = _act(y, dtype)
    y = layers.Conv2D(channels, 3, padding="same", dtype=dtype, name=name + "_b")(y)
    return _act(layers.Add(dtype=dtype)([x, y]), dtype)


def build_encoder(image_size: int, *, width: int = 32, bottleneck: str = "conv",
                  latent: int = 64, dtype=None, name: str = "encoder") -> keras.Model:
    """``(B, S, S, 3)`` in [0, 1] -> the code ``(B, S/16, S/16, C)``."""
    inp = keras.Input((image_size, image_size, 3), name="face")
    x = layers.Rescaling(2.0, offset=-1.0, dtype=dtype)(inp)
    for i in range(DOWNSAMPLES):
        x = layers.Conv2D(width * 2 ** i, 5, strides=2, padding="same", dtype=dtype,
                          name=f"down{i + 1}")(x)
        x = _act(x, dtype)
    side = image_size // 2 ** DOWNSAMPLES
    if bottleneck == "conv":
        x = layers.Conv2D(latent, 3, padding="same", dtype=dtype, name="code")(x)
    elif bottleneck == "dense":
        x = layers.Flatten(dtype=dtype)(x)
        x = layers.Dense(latent, dtype=dtype, name="code")(x)
        x = layers.Dense(side * side * width * 2 ** (DOWNSAMPLES - 1), dtype=dtype,
                         name="expand")(x)
        x = layers.Reshape((side, side, width * 2 ** (DOWNSAMPLES - 1)), dtype=dtype)(x)
    else:
        raise ValueError(f"bottleneck must be conv or dense, got {bottleneck!r}")
    return keras.Model(inp, x, name=name)


def _up_stages(x, first: int, last: int, width: int, dtype):
    """Upsampling stages ``first .. last - 1`` of the decoder (each x2)."""
    for i in range(first, last):
        x = _pixel_shuffle(x, width * 2 ** (DOWNSAMPLES - 1 - i), dtype, f"up{i + 1}")
        if i >= DOWNSAMPLES - 2:
            x = _residual(x, dtype, f"res{i + 1}")
    return x


def build_head(in_shape: tuple[int, int, int], *, width: int = 32, shared: int = 0,
               mask: bool = True, dtype=None, name: str = "head") -> keras.Model:
    """The last ``shared`` upsampling stages and the output convolutions:
    features ``(B, s, s, C)`` -> ``(B, S, S, 3 + mask)`` float32 in [0, 1]."""
    inp = keras.Input(in_shape, name="features")
    x = _up_stages(inp, DOWNSAMPLES - shared, DOWNSAMPLES, width, dtype)
    rgb = layers.Conv2D(3, 5, padding="same", activation="sigmoid", dtype=dtype,
                        name="rgb")(x)
    if mask:
        m = layers.Conv2D(1, 5, padding="same", activation="sigmoid", dtype=dtype,
                          name="mask")(x)
        rgb = layers.Concatenate(dtype=dtype)([rgb, m])
    out = layers.Activation("linear", dtype="float32", name="face_f32")(rgb)
    return keras.Model(inp, out, name=name)


def build_decoder(code_shape: tuple[int, int, int], *, width: int = 32, mask: bool = True,
                  shared: int = 0, head: keras.Model | None = None, dtype=None,
                  name: str = "decoder") -> keras.Model:
    """The code ``(B, S/16, S/16, C)`` -> ``(B, S, S, 3 + mask)`` float32 in
    [0, 1]: the first ``DOWNSAMPLES - shared`` upsampling stages, then
    ``head`` (:func:`build_head`; a new one when None), which another
    decoder may share."""
    inp = keras.Input(code_shape, name="code")
    x = _up_stages(inp, 0, DOWNSAMPLES - shared, width, dtype)
    if head is None:
        head = build_head(tuple(x.shape[1:]), width=width, shared=shared, mask=mask,
                          dtype=dtype, name=name + "_head")
    return keras.Model(inp, head(x), name=name)


@dataclass
class Nets:
    """The shared ``encoder`` and the decoders of identity A and B."""

    encoder: keras.Model
    decoder_a: keras.Model
    decoder_b: keras.Model

    def trackables(self) -> dict[str, keras.Model]:
        return {"encoder": self.encoder, "decoder_a": self.decoder_a,
                "decoder_b": self.decoder_b}

    @property
    def variables(self) -> list:
        """The trainable variables, each once (the decoders may share a head)."""
        out, seen = [], set()
        for net in self.trackables().values():
            for v in net.trainable_variables:
                if id(v) not in seen:
                    seen.add(id(v))
                    out.append(v)
        return out

    def decoder(self, identity: str) -> keras.Model:
        """The decoder of ``identity`` ("A" or "B")."""
        return {"A": self.decoder_a, "B": self.decoder_b}[identity]


def build_autoencoder(config) -> Nets:
    """The networks of a :class:`faceswap.config.TrainConfig` (built,
    weights from the current Keras seed)."""
    enc = build_encoder(config.image_size, width=config.width, bottleneck=config.bottleneck,
                        latent=config.latent, dtype=config.dtype)
    code = tuple(enc.output.shape[1:])
    kw = dict(width=config.width, mask=config.mask, shared=config.shared_stages,
              dtype=config.dtype)
    dec_a = build_decoder(code, name="decoder_a", **kw)
    head = dec_a.layers[-1] if config.shared_stages else None
    return Nets(enc, dec_a, build_decoder(code, name="decoder_b", head=head, **kw))
