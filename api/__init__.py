"""The Docker Engine API face: ``dockyard serve`` answers Docker's REST API over the engine interface, so the
docker CLI, docker-py and docker-compose drive dockyard. Like ``tui/``, it imports only core.interface,
core.models, core.errors and core.dockerjson (the shared Docker JSON mapping)."""
