"""Citizen Watt: an open-source electricity monitor built in workshops."""

__version__ = "0.1.0"
