"""iWmo 3.2 translator: the pure core that reads 302/305/307 and writes 301/306/308.

Nothing here does I/O: the gateway, the provider connector, the outbound delivery and the
``hub iwmo`` command call these functions with the document's bytes and the hub's state.
"""
