from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch

from tests.one_thread import one_torch_thread  # noqa: F401  (autouse: agent tests on one thread)

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def torch_threads() -> Iterator[Callable[[int], None]]:
    """``torch.set_num_threads`` for one test (the count is restored after it): for the tests of
    the C++ kernels' parallel paths under the suite's one-thread default."""
    before = torch.get_num_threads()
    yield torch.set_num_threads
    torch.set_num_threads(before)
