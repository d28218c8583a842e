"""Rendering: pygame drawing on off-screen surfaces, the human window and the video writer.

pygame is imported lazily, at the first frame, so ``import meta_envs`` stays light.
"""

from meta_envs.rendering.video import save_video

__all__ = ["save_video"]
