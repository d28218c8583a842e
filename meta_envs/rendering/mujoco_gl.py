"""Choosing MuJoCo's OpenGL backend on headless machines, before ``mujoco`` is imported.

Kept apart from the env module so that the choice is made (and testable) without importing MuJoCo.
"""

from __future__ import annotations

import ctypes.util
import os
import sys


def choose_mujoco_gl() -> str | None:
    """Pick MuJoCo's OpenGL backend for headless rendering before ``mujoco`` is first imported.

    MuJoCo reads ``MUJOCO_GL`` once, when ``mujoco`` is imported. Without a display (Linux, neither
    ``DISPLAY`` nor ``WAYLAND_DISPLAY`` set) and without a user choice, this sets ``MUJOCO_GL`` to
    ``egl`` if libEGL is installed, else ``osmesa`` if libOSMesa is (following ``PYOPENGL_PLATFORM``
    when that is set). It changes nothing if ``MUJOCO_GL`` is set, if a display is available, or if
    ``mujoco`` was already imported (too late: set ``MUJOCO_GL`` yourself in that case).

    Returns:
        The backend chosen here, or ``None`` if this function left the environment alone.
    """
    if "MUJOCO_GL" in os.environ or "mujoco" in sys.modules or not sys.platform.startswith("linux"):
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    platform = os.environ.get("PYOPENGL_PLATFORM", "").lower()
    if platform in ("egl", "osmesa"):
        backend = platform
    elif ctypes.util.find_library("EGL"):
        backend = "egl"
    elif ctypes.util.find_library("OSMesa"):
        backend = "osmesa"
    else:
        return None
    os.environ["MUJOCO_GL"] = backend
    return backend


def reinitialize_egl_display() -> bool:
    """Re-initialize MuJoCo's shared EGL display after someone else terminated it.

    MuJoCo's EGL backend initializes one EGL display per process; SDL's headless video driver
    (used by pygame windows when there is no display) terminates that same display when a pygame
    window closes, after which no new MuJoCo renderer can be created. ``eglInitialize`` on a
    terminated display makes it usable again. Returns whether a re-initialization was attempted.
    """
    if os.environ.get("MUJOCO_GL", "").lower() != "egl":
        return False
    egl = sys.modules.get("mujoco.egl")
    display = getattr(egl, "EGL_DISPLAY", None)
    if display is None:
        return False
    try:
        egl.EGL.eglInitialize(display, None, None)
    except Exception:
        return False
    return True
