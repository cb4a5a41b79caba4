"""The dockyard engine: images, layers, containers, networks, volumes and logs.

Nothing in this package imports Textual or Rich; the faces in ``tui/`` call :class:`core.engine.Engine`.
"""
