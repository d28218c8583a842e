"""Lazy import of pygame with a clear error naming the package to install."""

from __future__ import annotations

import os
from types import ModuleType

from gymnasium.error import DependencyNotInstalled


def import_pygame() -> ModuleType:
    """Import pygame quietly (no support banner) or raise ``DependencyNotInstalled``."""
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    try:
        import pygame
    except ImportError as error:  # pragma: no cover - pygame is a core dependency
        raise DependencyNotInstalled(
            'pygame is not installed; run `pip install pygame` (or `pip install "mamba-agent"`)'
        ) from error
    return pygame
