"""Orders, shipments, tracking events and the pages that show them."""
