"""Checking a JSON value against a JSON Schema: the small subset routes use.

``type``, ``properties``, ``required``, ``additionalProperties`` (a boolean),
``items``, ``anyOf``, ``enum``, ``minLength``/``maxLength``,
``minItems``/``maxItems``, ``minimum``/``maximum`` and local ``$ref``s
(``#/$defs/X`` or ``#/definitions/X``). Anything else in a schema is
documentation and is not checked.
"""

from __future__ import annotations

from typing import Any

__all__ = ["schema_errors"]

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def _is(value: Any, kind: str) -> bool:
    if kind in ("integer", "number") and isinstance(value, bool):
        return False
    return isinstance(value, _TYPES.get(kind, (object,)))


def schema_errors(
    value: Any, schema: dict[str, Any], *, loc: tuple[str | int, ...] = ("body",)
) -> list[dict[str, Any]]:
    """Problems of ``value`` against ``schema`` as ``{"loc", "msg", "type"}`` dicts
    (empty when it is valid)."""
    errors: list[dict[str, Any]] = []
    _check(value, schema, schema, loc, errors)
    return errors


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    while isinstance(ref, str):
        parts = ref.removeprefix("#/").split("/")
        target: Any = root
        for part in parts:
            target = target[part]
        schema = target
        ref = schema.get("$ref")
    return schema


def _err(errors: list[dict[str, Any]], loc: tuple[str | int, ...], msg: str, kind: str) -> None:
    errors.append({"loc": list(loc), "msg": msg, "type": kind})


def _check(
    value: Any,
    schema: dict[str, Any],
    root: dict[str, Any],
    loc: tuple[str | int, ...],
    errors: list[dict[str, Any]],
) -> None:
    schema = _resolve(schema, root)
    if "anyOf" in schema:
        for option in schema["anyOf"]:
            trial: list[dict[str, Any]] = []
            _check(value, option, root, loc, trial)
            if not trial:
                break
        else:
            _err(errors, loc, "matches none of the allowed forms", "any_of")
            return
    kind = schema.get("type")
    if kind is not None:
        kinds = [kind] if isinstance(kind, str) else list(kind)
        if not any(_is(value, k) for k in kinds):
            _err(errors, loc, f"must be of type {' or '.join(kinds)}", "type_error")
            return
    if "enum" in schema and value not in schema["enum"]:
        shown = ", ".join(repr(v) for v in schema["enum"])
        _err(errors, loc, f"must be one of {shown}", "enum")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            _err(errors, loc, f"must have at least {schema['minLength']} characters", "too_short")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            _err(errors, loc, f"must have at most {schema['maxLength']} characters", "too_long")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            _err(errors, loc, f"must be at least {schema['minimum']}", "too_small")
        if "maximum" in schema and value > schema["maximum"]:
            _err(errors, loc, f"must be at most {schema['maximum']}", "too_large")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            _err(errors, loc, f"must have at least {schema['minItems']} items", "too_short")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            _err(errors, loc, f"must have at most {schema['maxItems']} items", "too_long")
        items = schema.get("items")
        if isinstance(items, dict):
            for i, item in enumerate(value):
                _check(item, items, root, (*loc, i), errors)
    if isinstance(value, dict):
        props: dict[str, Any] = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                _err(errors, (*loc, name), "field required", "missing")
        if schema.get("additionalProperties") is False:
            for name in value:
                if name not in props:
                    _err(errors, (*loc, name), "unknown field", "extra_forbidden")
        for name, sub in props.items():
            if name in value:
                _check(value[name], sub, root, (*loc, name), errors)
