"""``python -m gan_core.experiments``: see ``gan_core.experiments.cli``."""

import sys

from .cli import main

sys.exit(main(sys.argv[1:]))
