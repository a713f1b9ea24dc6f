"""``python -m server.emulator``: the same as the ``gemini-interactions-emulator`` command."""

import sys

from .cli import main

sys.exit(main())
