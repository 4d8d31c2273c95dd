"""Detection and provenance: tell the repository's own fakes from real images,
and sign what it makes.

- :mod:`detect.provenance`: check any file's repository marks and C2PA
  manifest (valid, tampered, absent); TensorFlow-free. Signing is
  :mod:`data.c2pa`'s (every image :func:`data.images.save_image` writes).
- :mod:`detect.spectral`: Durall et al. 2020's azimuthal spectrum and an L2
  logistic regression (NumPy/SciPy).
- :mod:`detect.cnn`: a small CNN with Wang et al. 2020's blur and JPEG
  augmentation (Keras 3).
- :mod:`detect.metrics`: average precision, accuracy at 0.5.
- :mod:`detect.data`: real/fake datasets per generator, built from seeds.
- :mod:`detect.train`: train, load and score detector runs.

Command line: ``python -m detect build-data | train | score | provenance``.
"""
