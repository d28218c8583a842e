"""Reacher-N frames: MuJoCo's offscreen renderer plus numbered goal markers and pygame trails."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from meta_envs.rendering.mujoco_gl import choose_mujoco_gl, reinitialize_egl_display

choose_mujoco_gl()

import mujoco  # noqa: E402  (MUJOCO_GL must be chosen first)

from meta_envs.rendering.canvas import trail_color  # noqa: E402
from meta_envs.rendering.pygame_import import import_pygame  # noqa: E402


class ReacherFrames:
    """Draws frames of a Reacher-N arm from a top-down camera named ``fixed``.

    Goals are numbered discs of radius ``goal_radius`` (yellow: current, orange: later, dark: reached, green: the last goal
    reached and still paying); the fingertip trail of each sub-episode is drawn over the frame in
    the suite's trail colours, with a caption.
    """

    GOAL_RGBA: ClassVar[dict[str, tuple[float, float, float, float]]] = {
        "current": (1.0, 0.8, 0.1, 1.0),
        "later": (0.9, 0.45, 0.1, 1.0),
        "reached": (0.2, 0.24, 0.3, 1.0),
        "parked": (0.3, 0.85, 0.4, 1.0),  # the last goal, reached and still paying
    }

    def __init__(self, model: Any, width: int, height: int, goal_radius: float) -> None:
        self.model = model
        self.goal_radius = goal_radius
        self.width = width
        self.height = height
        model.vis.global_.offwidth = max(model.vis.global_.offwidth, width)
        model.vis.global_.offheight = max(model.vis.global_.offheight, height)
        try:
            try:
                self._renderer = mujoco.Renderer(model, height=height, width=width)
            except Exception:
                if not reinitialize_egl_display():
                    raise
                self._renderer = mujoco.Renderer(model, height=height, width=width)
        except Exception as error:  # the message of a failed GL context is rarely helpful
            raise RuntimeError(
                "could not create MuJoCo's offscreen renderer "
                f"(MUJOCO_GL={os.environ.get('MUJOCO_GL')!r}); without a display, set "
                "MUJOCO_GL=egl (or osmesa) in the environment before mujoco is first imported "
                "(importing meta_envs.envs.reacher first does it for you)"
            ) from error
        camera = model.camera("fixed")
        # Pixels per metre at the fingertip's height, for the trail overlay (top-down camera).
        depth = float(camera.pos[2]) - float(model.body("arm").pos[2])
        self.pixels_per_metre = (height / 2) / (math.tan(math.radians(camera.fovy[0]) / 2) * depth)
        self._font: Any = None

    def render(
        self,
        data: Any,
        goals: np.ndarray,
        goal_index: int,
        goals_reached: int,
        trails: Sequence[Sequence[np.ndarray]],
        caption: str,
    ) -> np.ndarray:
        """An ``(height, width, 3)`` uint8 frame of ``data`` with goals, trails and caption."""
        # After mj_step, positions lag the state by one physics step: recompute them (this touches
        # only kinematic quantities, which the next mj_step recomputes, so physics is unchanged).
        mujoco.mj_kinematics(self.model, data)
        mujoco.mj_camlight(self.model, data)
        self._renderer.update_scene(data, camera="fixed")
        self._add_goal_markers(self._renderer.scene, goals, goal_index, goals_reached)
        frame = self._renderer.render()
        self._draw_overlay(frame, trails, caption)
        return frame

    def _add_goal_markers(
        self, scene: Any, goals: np.ndarray, goal_index: int, goals_reached: int
    ) -> None:
        size = np.array([self.goal_radius, 0.0005, 0.0])
        eye = np.eye(3).ravel()
        for index, (x, y) in enumerate(goals):
            if scene.ngeom >= scene.maxgeom:
                break
            if index == goal_index:
                kind = "parked" if index < goals_reached else "current"
            elif index < goal_index:
                kind = "reached"
            else:
                kind = "later"
            geom = scene.geoms[scene.ngeom]
            rgba = np.array(self.GOAL_RGBA[kind], dtype=np.float32)
            mujoco.mjv_initGeom(
                geom, mujoco.mjtGeom.mjGEOM_CYLINDER, size, np.array([x, y, 0.001]), eye, rgba
            )
            geom.label = str(index + 1)
            scene.ngeom += 1

    def _draw_overlay(
        self, frame: np.ndarray, trails: Sequence[Sequence[np.ndarray]], caption: str
    ) -> None:
        pygame = import_pygame()
        surface = pygame.image.frombuffer(frame, (self.width, self.height), "RGB")  # shares memory
        scale = self.pixels_per_metre
        cx = self.width / 2
        cy = self.height / 2
        line_width = max(1, round(self.height / 200))
        for sub_episode, trail in enumerate(trails):
            if len(trail) < 2:
                continue
            points = [(cx + scale * p[0], cy - scale * p[1]) for p in trail]
            pygame.draw.lines(surface, trail_color(sub_episode), False, points, line_width)
        if self._font is None:
            pygame.font.init()
            self._font = pygame.font.Font(None, max(12, round(self.height / 16)))
        surface.blit(self._font.render(caption, True, (240, 240, 240)), (6, 4))

    def close(self) -> None:
        """Release the offscreen renderer."""
        self._renderer.close()
