"""``python -m dbslm`` is the ``dbslm`` command."""

import sys

from dbslm.cli import main

sys.exit(main())
