"""The surveys area's tables."""
