"""Meta-episode replay, batch layout and the collector."""
