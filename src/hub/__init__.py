"""Integration hub for the Dutch social domain: CloudEvents on Kafka, routed per recipient."""

__all__ = ["__version__"]

__version__ = "0.1.0"
