"""Classbridge: telepresence classroom coordination for medical alternative provision."""

__all__ = ["__version__"]

__version__ = "0.1.0"
