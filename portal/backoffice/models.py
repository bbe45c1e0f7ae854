"""The backoffice area's tables."""
