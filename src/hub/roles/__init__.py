"""The connectors: one module per partner role, each defining ``CONNECTOR`` (docs/connectors.md).

Nothing imports these modules by name: ``hub.connectors.discovery`` finds every module
here (and every ``hub.connectors`` entry point), so a new role is a new module, not a
change to the core. The five roles of the contract (messages.md, "Partners and roles")
are connectors like any other.
"""
