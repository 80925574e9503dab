"""Benchmarks run by ``bookpulse bench NAME``; each module has ``main(argv) -> int``."""
