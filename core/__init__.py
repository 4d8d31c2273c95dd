"""Pieces shared by the GAN packages (``cogan``, ``cyclegan``): GAN losses and
the training-loop plumbing (seeds, checkpoints with exact resume, options
saved beside checkpoints, TensorBoard, progress bars, tf.distribute)."""
