"""Compose: multi-container applications from compose.yaml.

A client of the engine interface, like docker compose is a client of dockerd: it imports only
``core.interface``, ``core.models`` and ``core.errors`` (tests/unit/test_import_contract.py). The command line
verbs live in ``tui/commands/compose.py``; the workbench's project actions call this package too.
"""
