"""Doorstep's benchmark suite (`make bench`): data generator, reference apps, scenarios and the report."""
