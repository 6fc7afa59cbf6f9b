"""Benchmarks run by `make bench`: every figure is printed as `BENCH <name> <value> <unit>`."""
