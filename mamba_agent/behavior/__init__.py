"""Behaviour learning in imagination: actor, critic, imagination, return normalisation."""
