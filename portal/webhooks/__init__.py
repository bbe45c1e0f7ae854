"""Outgoing webhooks to the shop: one outbox row per event, sent by a worker, signed, retried with backoff."""
