"""The ``human`` render mode: shows frames in a pygame window (touches ``pygame.display`` only here)."""

from __future__ import annotations

import numpy as np

from meta_envs.rendering.pygame_import import import_pygame


class Window:
    """A pygame window that shows ``(H, W, 3)`` uint8 frames at most ``fps`` times per second."""

    def __init__(self, title: str = "meta_envs", fps: int = 30) -> None:
        self._pygame = import_pygame()
        self._pygame.display.init()
        self._title = title
        self._fps = fps
        self._screen = None
        self._clock = self._pygame.time.Clock()

    def show(self, frame: np.ndarray) -> None:
        """Display ``frame`` (opens the window at the frame's size on first use)."""
        pygame = self._pygame
        height, width = frame.shape[:2]
        if self._screen is None or self._screen.get_size() != (width, height):
            self._screen = pygame.display.set_mode((width, height))
            pygame.display.set_caption(self._title)
        pygame.surfarray.blit_array(self._screen, np.transpose(frame, (1, 0, 2)))
        pygame.event.pump()
        pygame.display.flip()
        self._clock.tick(self._fps)

    def close(self) -> None:
        """Close the window."""
        if self._screen is not None:
            self._pygame.display.quit()
            self._screen = None
