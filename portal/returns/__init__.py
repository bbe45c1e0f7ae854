"""Returns: eligibility, return requests and their rules, resolutions, and the label PDF."""
