"""The second implementation of :class:`core.interface.Engine`: a client of the Docker Engine API (any
engine that speaks API 1.40 or newer: dockyard's own ``dockyard serve``, dockerd, podman), over a unix
socket, TCP, or TCP with TLS and client certificates.

Nothing here is imported on the local engine's start paths: :func:`core.interface.engine_for` imports this
package only when a host or a context names a remote engine, and nothing heavy in it is imported on a
remote command's path either (its budget is the docker CLI's time for the same command).

- :mod:`core.remote.endpoint`: where the engine is (``unix://``, ``tcp://``, TLS material) and how a raw
  socket to it is opened (for the hijacked attach/exec connections).
- :mod:`core.remote.wire`: HTTP/1.1 over kept-alive connections (not httpx: importing it costs ~100 ms).
- :mod:`core.remote.client`: requests, ``/_ping`` version negotiation, errors mapped back to
  :mod:`core.errors` types.
- :mod:`core.remote.engine`: :class:`RemoteEngine`, records from Docker's JSON through
  :mod:`core.dockerjson`.
- :mod:`core.remote.hijack`: attach and exec start as a :class:`core.interface.DuplexStream`.
- :mod:`core.remote.contexts`: the docker CLI's context store and engine selection (``-H``,
  ``DOCKER_HOST``, ``--context``, ``DOCKER_CONTEXT``, ``currentContext``).
"""
