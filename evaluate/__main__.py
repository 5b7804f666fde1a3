"""``python -m evaluate``: the ``evaluate`` stage (:mod:`evaluate.stage`)."""

import sys

from evaluate.stage import main

sys.exit(main())
