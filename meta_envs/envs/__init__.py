"""One module per meta-environment."""
