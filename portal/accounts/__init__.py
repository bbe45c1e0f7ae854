"""Shoppers, staff and API clients: who is acting."""
