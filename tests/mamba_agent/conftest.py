from __future__ import annotations

import sys
from pathlib import Path

from tests.one_thread import one_torch_thread  # noqa: F401  (autouse: agent tests on one thread)

sys.path.insert(0, str(Path(__file__).parent))
