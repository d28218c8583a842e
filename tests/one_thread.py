"""An autouse fixture for the suites that train: PyTorch on one thread (other test suites and
processes share the machine's two cores). A conftest imports it to apply it to its folder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
