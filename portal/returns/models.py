"""The returns area's tables."""
