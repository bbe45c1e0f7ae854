"""Jobs only the benchmark queues: the no-op that measures RQ's own rate with the portal's worker."""


def noop() -> None:
    """Do nothing: what is left is the worker's cost per job (fetch, fork, bookkeeping)."""
    return None
