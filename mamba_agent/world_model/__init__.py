"""World model: encoder, RSSM, decoder, heads and the world-model loss."""
