"""The ``com.docker.compose.config-hash`` label: docker compose v2's ServiceHash (pkg/compose/hash.go) over
the canonical form. Compose hashes the service's JSON with what does not change a container left out --
``build``, ``pull_policy``, ``scale``, ``deploy.replicas``, ``depends_on``, ``profiles`` -- so that `up`
recreates a container exactly when its own configuration changed.

The JSON here is the canonical dict with sorted keys and no spaces (compose marshals a Go struct, whose
field order Python cannot reproduce, so the digests differ from compose's own: a project moved between the
two tools is recreated once)."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from typing import Any

# keys of the canonical service that do not take part in the hash (compose's ServiceHash)
_LEFT_OUT = ("build", "pull_policy", "scale", "depends_on", "profiles")


def service_hash(service: Mapping[str, Any]) -> str:
    """sha256 (hex) of the service's canonical configuration, stable across runs and dict orders."""
    o = {k: v for k, v in service.items() if k not in _LEFT_OUT}
    deploy = o.get("deploy")
    if isinstance(deploy, Mapping) and "replicas" in deploy:
        deploy = copy.deepcopy(dict(deploy))
        deploy.pop("replicas", None)
        o["deploy"] = deploy
    data = json.dumps(o, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(data.encode()).hexdigest()
