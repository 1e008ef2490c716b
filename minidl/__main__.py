"""``python -m minidl``: the ``minidl`` command line, for when the script is not on the PATH."""

import sys

from minidl.cli import main

sys.exit(main())
