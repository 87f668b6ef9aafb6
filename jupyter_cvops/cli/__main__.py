"""``python -m jupyter_cvops.cli``: the ``cvops`` command."""

import sys

from ._app import main

if __name__ == "__main__":
    sys.exit(main())
