"""The supervisor: the shim (one detached process per running container), its start-up, its side of a
container's process and the launcher that starts it. Above the runtime (``core.runtime``), which it drives."""
