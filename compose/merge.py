"""Merging compose documents (several ``-f`` files, and a service over the one it ``extends``), by the rules
of the spec's merge.md as compose-go's ``override`` package applies them, on documents already in the long
syntax (compose/normalize.py ``canonical``):

- mappings are merged key by key, recursively; a scalar is replaced;
- ``command``, ``entrypoint``, ``healthcheck.test`` and ``ulimits.*`` are replaced whole;
- ``environment``, ``labels``, ``build.args``, ``build.labels``, ``depends_on``, ``networks``: merged by key;
- ``ports`` (by host ip, published port, target and protocol), ``volumes`` (by target), ``env_file`` (by
  path), ``expose``, ``cap_add``, ``cap_drop``, ``tmpfs``, ``profiles``, ``extra_hosts``: appended, an entry
  that repeats an earlier one's key replacing it in place;
- other sequences are appended; top-level ``networks.*.ipam.config`` entries are merged by subnet.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

_REPLACE = {"command", "entrypoint"}
# `KEY=VALUE` lists in compose-go's merge (mergeToSequence, then unique by key): merged by key, the later wins
_KEYED = ("environment", "labels", "args")


def _port_key(p: dict[str, Any]) -> str:
    host = p.get("host_ip") or "0.0.0.0"
    return f"{host}:{p.get('published', '')}:{p.get('target')}/{p.get('protocol', 'tcp')}"


def _value_key(v: Any) -> str:
    return str(v).split("=", 1)[0]


_UNIQUE: dict[str, Callable[[Any], str]] = {
    "ports": _port_key,
    "volumes": lambda v: str(v.get("target")),
    "env_file": lambda v: str(v.get("path")),
    "expose": str,
    "cap_add": _value_key,
    "cap_drop": _value_key,
    "tmpfs": _value_key,
    "profiles": _value_key,
    "extra_hosts": str,
}


def unique(seq: list[Any], key: Callable[[Any], str]) -> list[Any]:
    """``seq`` with a later entry of an already seen key replacing the earlier one in place."""
    out: list[Any] = []
    seen: dict[str, int] = {}
    for entry in seq:
        k = key(entry)
        if k in seen:
            out[seen[k]] = entry
        else:
            seen[k] = len(out)
            out.append(entry)
    return out


def _merge_value(base: Any, over: Any) -> Any:
    if over is None:
        return base
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = _merge_value(out[k], v) if k in out else v
        return out
    if isinstance(base, list) and isinstance(over, list):
        return base + over
    return over


def enforce_unicity(svc: dict[str, Any]) -> dict[str, Any]:
    """``svc`` with no two entries of the same key in its keyed sequences (compose-go's EnforceUnicity): a
    later one replaces the earlier in place; network aliases are kept once."""
    for key, index in _UNIQUE.items():
        if isinstance(svc.get(key), list):
            svc[key] = unique(svc[key], index)
    for cfg in (svc.get("networks") or {}).values():
        if isinstance(cfg, dict) and isinstance(cfg.get("aliases"), list):
            cfg["aliases"] = unique(cfg["aliases"], str)
    return svc


def merge_service(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` merged onto ``base`` (both canonical); neither is modified."""
    out = copy.deepcopy(base)
    for key, value in copy.deepcopy(over).items():
        if key not in out or key in _REPLACE:
            out[key] = value
        elif key in _KEYED and isinstance(out[key], dict) and isinstance(value, dict):
            out[key] = {**out[key], **value}  # a bare `KEY` later wins too: it is looked up again
        elif key == "build" and isinstance(out[key], dict) and isinstance(value, dict):
            build = _merge_value(
                {k: v for k, v in out[key].items() if k not in _KEYED},
                {k: v for k, v in value.items() if k not in _KEYED},
            )
            for sub in _KEYED:
                if sub in out[key] or sub in value:
                    build[sub] = {**(out[key].get(sub) or {}), **(value.get(sub) or {})}
            out[key] = build
        elif key in _UNIQUE and isinstance(out[key], list) and isinstance(value, list):
            out[key] = out[key] + value
        elif key == "healthcheck" and isinstance(out[key], dict) and isinstance(value, dict):
            hc = _merge_value({k: v for k, v in out[key].items() if k != "test"}, value)
            if "test" not in value and "test" in out[key]:
                hc["test"] = out[key]["test"]
            out[key] = hc
        elif key == "ulimits" and isinstance(out[key], dict) and isinstance(value, dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = _merge_value(out[key], value)
    return enforce_unicity(out)


def _merge_ipam_config(base: list[Any], over: list[Any]) -> list[Any]:
    out = [dict(c) for c in base]
    for cfg in over:
        for i, existing in enumerate(out):
            if existing.get("subnet") == cfg.get("subnet"):
                out[i] = {**existing, **cfg}
                break
        else:
            out.append(dict(cfg))
    return out


def _merge_resources(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in copy.deepcopy(over).items():
        if key not in out:
            out[key] = value
            continue
        merged = _merge_value(
            {k: v for k, v in out[key].items() if k != "ipam"},
            {k: v for k, v in value.items() if k != "ipam"},
        )
        if "ipam" in out[key] or "ipam" in value:
            ipam = _merge_value(
                {k: v for k, v in (out[key].get("ipam") or {}).items() if k != "config"},
                {k: v for k, v in (value.get("ipam") or {}).items() if k != "config"},
            )
            configs = _merge_ipam_config(
                (out[key].get("ipam") or {}).get("config") or [],
                (value.get("ipam") or {}).get("config") or [],
            )
            if configs:
                ipam["config"] = configs
            merged["ipam"] = ipam
        out[key] = merged
    return out


def merge_documents(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Two canonical documents merged: ``over`` (a later ``-f`` file) onto ``base``."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if key == "services":
            services = dict(out.get("services") or {})
            for name, svc in (value or {}).items():
                services[name] = (
                    merge_service(services[name], svc) if name in services else merge_service({}, svc)
                )
            out["services"] = services
        elif key in ("networks", "volumes"):
            out[key] = _merge_resources(out.get(key) or {}, value or {})
        else:
            out[key] = copy.deepcopy(value)
    return out
