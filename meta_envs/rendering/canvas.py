"""An off-screen pygame surface with a world-to-pixel transform, shared by the 2D envs.

Drawing happens on a plain ``pygame.Surface``, never on the display, so ``rgb_array`` rendering
needs no window (the same approach as Gymnasium's classic-control envs).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from meta_envs.rendering.pygame_import import import_pygame

Color = tuple[int, int, int]

#: One colour per sub-episode: red, green, blue, then further colours (cycled).
TRAIL_COLORS: tuple[Color, ...] = (
    (220, 40, 40),
    (30, 160, 60),
    (40, 90, 230),
    (240, 150, 20),
    (150, 60, 200),
    (20, 180, 190),
    (200, 60, 150),
    (120, 120, 40),
)


def trail_color(sub_episode: int) -> Color:
    """The trail colour of sub-episode ``sub_episode`` (0-based)."""
    return TRAIL_COLORS[sub_episode % len(TRAIL_COLORS)]


class Canvas:
    """A pygame surface of ``size`` pixels showing the world rectangle ``bounds``.

    World coordinates have +y up; the transform keeps the aspect ratio and centres the world.
    """

    BACKGROUND: Color = (250, 250, 245)
    AGENT: Color = (20, 20, 20)
    WALL: Color = (60, 60, 60)
    GOAL: Color = (250, 200, 40)
    GOAL_EDGE: Color = (170, 120, 0)
    MUTED: Color = (200, 200, 200)

    def __init__(self, size: tuple[int, int], bounds: tuple[float, float, float, float]) -> None:
        self._pygame = import_pygame()
        self.size = (int(size[0]), int(size[1]))
        self.surface = self._pygame.Surface(self.size)
        x_min, x_max, y_min, y_max = bounds
        self.scale = min(self.size[0] / (x_max - x_min), self.size[1] / (y_max - y_min))
        self._cx = (x_min + x_max) / 2
        self._cy = (y_min + y_max) / 2
        self._font: Any = None

    # ------------------------------------------------------------------ transforms
    def to_pixel(self, point: Sequence[float] | np.ndarray) -> tuple[int, int]:
        """Pixel coordinates of a world point."""
        x = self.size[0] / 2 + (float(point[0]) - self._cx) * self.scale
        y = self.size[1] / 2 - (float(point[1]) - self._cy) * self.scale
        return round(x), round(y)

    def pixels(self, length: float) -> int:
        """A world length in pixels (at least 1)."""
        return max(1, round(length * self.scale))

    def pixel_radius(self, pixels: int) -> float:
        """A radius in world units that is ``pixels`` pixels on this canvas."""
        return pixels / self.scale

    # ------------------------------------------------------------------ drawing
    def fill(self, color: Color) -> None:
        self.surface.fill(color)

    def circle(self, center: Sequence[float], radius: float, color: Color, width: int = 0) -> None:
        """A circle of world ``radius``; ``width`` in pixels (0 fills it)."""
        self._pygame.draw.circle(
            self.surface, color, self.to_pixel(center), self.pixels(radius), width
        )

    def line(self, a: Sequence[float], b: Sequence[float], color: Color, width: int = 1) -> None:
        self._pygame.draw.line(self.surface, color, self.to_pixel(a), self.to_pixel(b), width)

    def polyline(self, points: Sequence[Sequence[float]], color: Color, width: int = 2) -> None:
        if len(points) >= 2:
            self._pygame.draw.lines(
                self.surface, color, False, [self.to_pixel(p) for p in points], width
            )

    def rect(
        self, corner_min: Sequence[float], corner_max: Sequence[float], color: Color, width: int = 0
    ) -> None:
        """An axis-aligned rectangle between two world corners."""
        (x0, y1), (x1, y0) = self.to_pixel(corner_min), self.to_pixel(corner_max)
        rect = self._pygame.Rect(x0, y0, x1 - x0, y1 - y0)
        self._pygame.draw.rect(self.surface, color, rect, width)

    def arc(
        self,
        center: Sequence[float],
        radius: float,
        start: float,
        stop: float,
        color: Color,
        width: int = 3,
    ) -> None:
        """The arc of a circle from angle ``start`` to ``stop`` (radians, counter-clockwise)."""
        steps = max(2, int(abs(stop - start) / (2 * np.pi) * 180))
        angles = np.linspace(start, stop, steps)
        points = np.stack(
            [center[0] + radius * np.cos(angles), center[1] + radius * np.sin(angles)], 1
        )
        self.polyline(points, color, width)

    def text(
        self, text: str, point: Sequence[float], color: Color = (20, 20, 20), size: int = 18
    ) -> None:
        """Text centred on a world point."""
        label = self._render_text(text, color, size)
        x, y = self.to_pixel(point)
        self.surface.blit(label, (x - label.get_width() // 2, y - label.get_height() // 2))

    def caption(self, text: str) -> None:
        """A small caption in the top-left corner."""
        self.surface.blit(self._render_text(text, (90, 90, 90), 16), (6, 4))

    def trails(self, trails: Sequence[Sequence[np.ndarray]], offset_pixels: int = 3) -> None:
        """One polyline per sub-episode, coloured with :func:`trail_color`.

        Sub-episode ``k`` is shifted by ``k * offset_pixels`` pixels (right and down), so that
        sub-episodes walking the same path stay visible side by side.
        """
        for k, points in enumerate(trails):
            if len(points) >= 2:
                shift = k * offset_pixels
                pixels = [(x + shift, y + shift) for x, y in (self.to_pixel(p) for p in points)]
                self._pygame.draw.lines(self.surface, trail_color(k), False, pixels, 2)

    def _render_text(self, text: str, color: Color, size: int) -> Any:
        pygame = self._pygame
        if not pygame.font.get_init():
            pygame.font.init()
        if self._font is None or self._font[0] != size:
            self._font = (size, pygame.font.Font(None, size + 6))
        return self._font[1].render(text, True, color)

    def to_array(self) -> np.ndarray:
        """The frame as an ``(height, width, 3)`` uint8 array."""
        return np.ascontiguousarray(
            np.transpose(self._pygame.surfarray.pixels3d(self.surface), (1, 0, 2))
        )
