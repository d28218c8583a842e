"""``python -m mamba_agent`` is the ``mamba-agent`` command line."""

import sys

from mamba_agent.cli import main

sys.exit(main())
