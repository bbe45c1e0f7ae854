"""The loyalty area's tables."""
