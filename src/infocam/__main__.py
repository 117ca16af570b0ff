"""``python -m infocam`` (also what ``torchrun -m infocam`` runs)."""

import sys

from infocam.cli import main

sys.exit(main())
