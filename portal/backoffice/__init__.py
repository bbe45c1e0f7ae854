"""The back-office: staff pages only; every action calls the other areas' services."""
