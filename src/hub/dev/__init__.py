"""Development tools: a local Kafka broker (one node or three), and a partner simulator.

Production code never imports this package; `hub demo` (a development command) and
the tests and benchmarks do.
"""
