"""The contract's message families: their stateful rules, selectors, conditions and state.

One module per family (``referrals``, ``cases``, ``safety``, ``provisions``, ``care``),
each defining a ``hub.connectors.family.Family`` that the connectors of its types list.
The routing and privacy engines know none of them by name (docs/connectors.md).
"""

__all__: list[str] = []
