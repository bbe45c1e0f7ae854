"""The inbound JSON API (v1) for the shop's systems and carriers, and its OpenAPI document."""
