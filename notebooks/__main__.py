"""``python -m notebooks --preset small``: see :mod:`notebooks.runner`."""

import sys

from notebooks.runner import main

sys.exit(main())
