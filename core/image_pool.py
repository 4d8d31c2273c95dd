"""The history buffer of generated images (Shrivastava et al. 2017), used by
CycleGAN to update discriminators on past fakes.

For each new fake: while the pool is not full, store it and return it;
afterwards, with probability 1/2 return a random stored image and put the new
one in its place, otherwise return the new one (junyanz's ``ImagePool``).
The buffer and its fill count are ``tf.Variable``s, so the pool is saved in
checkpoints and restored on resume; randomness comes from a stateless
``(seed, step)`` key, so a resumed run draws what an uninterrupted one draws.
"""

from __future__ import annotations

import tensorflow as tf

__all__ = ["ImagePool"]


class ImagePool(tf.Module):
    """A pool of ``size`` images shaped ``image_shape`` (``size=0``: pass-through).

    Under a ``tf.distribute`` strategy, create it in ``strategy.scope()``; each
    replica then keeps its own buffer (on-read variables), and checkpoints
    hold the first replica's. So with more than one replica a resumed run
    restores replica 0's pool into every replica: it trains on correctly but
    is not bit-identical to an uninterrupted run (with one replica it is).
    """

    def __init__(self, size: int, image_shape: tuple[int, int, int], name: str = "pool"):
        super().__init__(name=name)
        if size < 0:
            raise ValueError(f"pool size must be >= 0, got {size}")
        self.size = int(size)
        on_read = dict(synchronization=tf.VariableSynchronization.ON_READ,
                       aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
        self.images = tf.Variable(tf.zeros((max(self.size, 1), *image_shape)), trainable=False,
                                  name="images", **on_read)
        self.count = tf.Variable(0, dtype=tf.int32, trainable=False, name="count", **on_read)

    def query(self, fakes: tf.Tensor, key: tf.Tensor) -> tf.Tensor:
        """Images for the discriminator, ``(B, H, W, C)`` like ``fakes``;
        ``key``: a stateless RNG key ``(2,)`` int64 (e.g. from seed and step).
        Call inside ``tf.function``; fakes are not back-propagated through."""
        fakes = tf.stop_gradient(tf.cast(fakes, tf.float32))
        if self.size == 0:
            return fakes
        n = fakes.shape[0]
        if n is None:
            raise ValueError("ImagePool.query needs a static batch size")
        coins = tf.random.stateless_uniform([n], key)
        slots = tf.random.stateless_uniform([n], key + 1, maxval=self.size, dtype=tf.int32)
        # work on a local copy and write it back once: replica-local (on-read)
        # variables under a MirroredStrategy allow assign but not scatter updates
        images, count = self.images.read_value(), self.count.read_value()
        out = []
        for i in range(n):  # sequential: each image may see the previous one's insert
            image = fakes[i]

            def insert(image=image, images=images, count=count):
                return tf.tensor_scatter_nd_update(images, [[count]], image[None]), count + 1, image

            def swap(image=image, images=images, count=count, i=i):
                def take():
                    return (tf.tensor_scatter_nd_update(images, [[slots[i]]], image[None]),
                            count, images[slots[i]])
                return tf.cond(coins[i] > 0.5, take, lambda: (images, count, image))

            images, count, chosen = tf.cond(count < self.size, insert, swap)
            out.append(chosen)
        self.images.assign(images)
        self.count.assign(count)
        return tf.stack(out)
