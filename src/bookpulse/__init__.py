"""Bookpulse: a self-hostable, real-time booking platform and status tracker."""

__version__ = "0.1.0"
