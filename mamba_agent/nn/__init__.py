"""Neural-network building blocks and pure functions (no dependence on the rest of the agent)."""
