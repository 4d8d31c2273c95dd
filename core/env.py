"""Process set-up shared by the command lines, the notebook runner and the
notebooks: TensorFlow without its start-up log lines.

TensorFlow 2.21 prints oneDNN, CUDA and CPU-feature notices through absl
before any log level applies, so ``TF_CPP_MIN_LOG_LEVEL`` alone does not hide
them. :func:`quiet_tensorflow` imports TensorFlow with file descriptor 2
captured and replays every line that is not one of those notices. Set
``DEEPFAKE_LAB_TF_LOGS=1`` to see everything.

Importing this module does not import TensorFlow.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Iterator

__all__ = ["LOGS_ENV", "quiet_tensorflow"]

LOGS_ENV = "DEEPFAKE_LAB_TF_LOGS"

# start-up notices of TensorFlow/absl (not warnings about the user's work)
_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\)"
    r"|[IW]\d{4} [\d:. ]+\s+\d+ \S+\.cc:\d+\]"
    r"|E\d{4} [\d:. ]+\s+\d+ cuda_\w+\.cc:\d+\] failed call to cuInit"
    r"|To enable the following instructions:"
    r"|WARNING: TensorFlow's oneDNN)")


def _wants_logs() -> bool:
    return os.environ.get(LOGS_ENV, "").strip().lower() not in ("", "0", "false", "no")


@contextlib.contextmanager
def _captured_stderr_fd() -> Iterator[None]:
    """Send fd 2 to a temporary file; afterwards replay the lines that are
    not start-up noise to ``sys.stderr``."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real fd 2 (embedded interpreters)
        yield
        return
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            kept = [line for line in tmp.read().decode("utf-8", "replace").splitlines()
                    if line.strip() and not _NOISE.match(line)]
            if kept:
                print("\n".join(kept), file=sys.stderr)


def quiet_tensorflow():
    """Import and return ``tensorflow`` without its start-up log lines (unless
    ``DEEPFAKE_LAB_TF_LOGS=1``). Safe to call more than once."""
    if _wants_logs():
        import tensorflow as tf

        return tf
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    with _captured_stderr_fd():
        import tensorflow as tf

        # the CUDA probe logs on first device query; do it while captured
        tf.config.list_physical_devices()
    tf.get_logger().setLevel("ERROR")
    return tf
