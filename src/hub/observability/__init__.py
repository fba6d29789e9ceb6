"""Observability: structured logging and Prometheus metrics, imported by every package.

It imports nothing of the hub but its settings' types, so it sits below everything.
"""
