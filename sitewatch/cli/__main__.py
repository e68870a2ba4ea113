"""``python -m sitewatch.cli``: the ``sitewatch`` command."""

import sys

from sitewatch.cli.main import main

sys.exit(main())
