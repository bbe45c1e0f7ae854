"""Loyalty: an append-only points ledger, earning rules, tiers, expiry, clawback and redemption."""
