"""The second implementation of :class:`core.interface.Engine`: a client of the Docker Engine API (any
engine that speaks API 1.40 or newer: dockyard's own ``dockyard serve``, dockerd, podman), over a unix
socket, TCP, or TCP with TLS and client certificates.

Nothing here is imported on the local engine's start paths: :func:`core.interface.engine_for` imports this
package only when a host or a context names a remote engine (``import httpx`` alone costs ~57 ms).

- :mod:`core.remote.endpoint`: where the engine is (``unix://``, ``tcp://``, TLS material) and how a raw
  socket to it is opened (for the hijacked attach/exec connections).
- :mod:`core.remote.client`: HTTP over httpx, ``/_ping`` version negotiation, errors mapped back to
  :mod:`core.errors` types.
- :mod:`core.remote.engine`: :class:`RemoteEngine`, records from Docker's JSON through
  :mod:`core.dockerjson`.
- :mod:`core.remote.hijack`: attach and exec start as a :class:`core.interface.DuplexStream`.
- :mod:`core.remote.contexts`: the docker CLI's context store and engine selection (``-H``,
  ``DOCKER_HOST``, ``--context``, ``DOCKER_CONTEXT``, ``currentContext``).
"""
