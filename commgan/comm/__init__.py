"""Learned communication systems: transceivers, encryption, eavesdroppers, systems."""
