"""``python -m monitor`` is ``omniwatch``."""

import sys

from monitor.cli import main

sys.exit(main())
