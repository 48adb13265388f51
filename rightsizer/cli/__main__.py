"""``python -m rightsizer.cli``."""

import sys

from . import main

sys.exit(main())
