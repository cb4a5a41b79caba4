"""Validation against the Compose Specification's published JSON schema (compose/compose-spec.json).

One error is reported, the most specific one (the deepest in the document, an unknown key counting one
deeper), worded as docker compose v2 words it (compose-go's ``schema`` package over santhosh-tekuri's
validator): ``validating compose.yaml: services.web additional properties 'imagee' not allowed``.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from compose.errors import InvalidComposeFile

SCHEMA_PATH = Path(__file__).with_name("compose-spec.json")


@cache
def _validator() -> Any:
    import jsonschema  # heavy: only when a compose file is loaded

    schema = json.loads(SCHEMA_PATH.read_text())
    # "$schema" names draft-07 without the trailing "#" that jsonschema's lookup wants
    return jsonschema.Draft7Validator(schema)


def _path(error: Any) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "(root)"


def _specificity(error: Any) -> tuple[int, int]:
    if error is None:
        return (-1, -1)
    depth = len(error.absolute_path)
    # at the same depth, a repeated item says more than another branch's type: a list environment with an
    # item twice is not "must be a mapping" but "items at 0 and 1 are equal"
    deeper = depth + 1 if error.validator == "additionalProperties" else depth
    return (deeper, error.validator == "uniqueItems")


def _most_specific(error: Any) -> Any:
    if not error.context:
        return error
    best = None
    for cause in error.context:
        cause = _most_specific(cause)
        if _specificity(cause) > _specificity(best):
            best = cause
    return best


def _type_name(want: Any) -> str:
    if isinstance(want, list):
        names = sorted(_type_name(w) for w in want)
        return ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]
    return "mapping" if want == "object" else str(want)


def _quote(value: Any) -> str:
    return f"'{value}'"


def describe(error: Any) -> str:
    """compose's one-line wording of one jsonschema error: path, then what is wrong."""
    path = _path(error)
    kind = error.validator
    arg = error.validator_value
    inst = error.instance
    if kind == "type":
        return f"{path} must be a {_type_name(arg)}"
    if kind == "minimum":
        return f"{path} must be greater than or equal to {arg}"
    if kind == "maximum":
        return f"{path} must be less than or equal to {arg}"
    if kind == "additionalProperties" and isinstance(inst, dict):
        schema = error.schema
        known = set(schema.get("properties", {}))
        patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
        extra = [k for k in inst if k not in known and not any(p.search(k) for p in patterns)]
        return f"{path} additional properties {', '.join(_quote(k) for k in extra)} not allowed"
    if kind == "required":
        missing = [k for k in arg if isinstance(inst, dict) and k not in inst]
        word = "property" if len(missing) == 1 else "properties"
        return f"{path} missing {word} {', '.join(_quote(k) for k in missing)}"
    if kind == "enum":
        return f"{path} value must be one of {', '.join(_quote(v) for v in arg)}"
    if kind == "const":
        return f"{path} value must be {_quote(arg)}"
    if kind == "pattern":
        return f"{path} {_quote(inst)} does not match pattern {_quote(arg)}"
    if kind == "minItems":
        return f"{path} minItems: got {len(inst)}, want {arg}"
    if kind == "uniqueItems" and isinstance(inst, list):
        for j, item in enumerate(inst):
            for i in range(j):
                if inst[i] == item and type(inst[i]) is type(item):
                    return f"{path} items at {i} and {j} are equal"
    if kind == "minProperties":
        return f"{path} minProperties: got {len(inst)}, want {arg}"
    if kind in ("oneOf", "anyOf"):
        return f"{path} {kind} failed, none matched"
    if kind == "not":
        return f"{path} not failed"
    return f"{path} {error.message}"


def validate(document: dict[str, Any], filename: str) -> None:
    """Raise InvalidComposeFile naming ``filename`` and the path if ``document`` breaks the schema."""
    errors = list(_validator().iter_errors(document))
    if not errors:
        return
    best = None
    for err in errors:
        err = _most_specific(err)
        if _specificity(err) > _specificity(best):
            best = err
    raise InvalidComposeFile(f"validating {filename}: {describe(best)}")
