"""A fast yes/no check of a body against one of the API's JSON Schemas, for the valid bodies that are nearly
all of the traffic (a batch of 100 tracking events: ~20 ms in jsonschema's validator, ~1 ms here).

It answers "valid" only when every assertion of the schema holds under jsonschema's own rules (the same
types, `re.search` for patterns, lengths in code points); anything else, and any schema using a keyword it
does not know, goes to jsonschema, which finds and words the errors.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Check = Callable[[Any], bool]

# Keywords that assert nothing (Draft 2020-12 validators check `format` only when asked to; ours are not).
_ANNOTATIONS = frozenset({"description", "examples", "format", "title", "default", "$comment", "x-error"})
_KNOWN = _ANNOTATIONS | {
    "type",
    "properties",
    "required",
    "additionalProperties",
    "minLength",
    "maxLength",
    "pattern",
    "enum",
    "minimum",
    "maximum",
    "items",
    "minItems",
    "maxItems",
}
# Exactly the Python values that are of each JSON type, leaving out what jsonschema also counts but this check
# need not (1.0 as an integer): such a value gets a "not sure" and goes to jsonschema.
_TYPES: dict[str, Check] = {
    "string": lambda value: type(value) is str,
    "integer": lambda value: type(value) is int,
    "number": lambda value: type(value) in (int, float),
    "boolean": lambda value: type(value) is bool,
    "null": lambda value: value is None,
    "object": lambda value: type(value) is dict,
    "array": lambda value: type(value) is list,
}


class _Unsupported(Exception):
    pass


def compile_check(schema: dict[str, Any]) -> Check | None:
    """A function telling whether an instance is surely valid, or None if the schema uses other keywords."""
    try:
        return _compile(schema)
    except _Unsupported:
        return None


def _compile(schema: Any) -> Check:
    if not isinstance(schema, dict) or not set(schema) <= _KNOWN:
        raise _Unsupported
    checks: list[Check] = []
    declared = schema.get("type")
    if declared is not None:
        names = declared if isinstance(declared, list) else [declared]
        if not all(name in _TYPES for name in names):
            raise _Unsupported
        type_checks = [_TYPES[name] for name in names]
        if len(type_checks) == 1:
            checks.append(type_checks[0])
        else:
            checks.append(lambda value: any(check(value) for check in type_checks))
    checks += _string_checks(schema) + _number_checks(schema) + _array_checks(schema) + _object_checks(schema)
    if "enum" in schema:
        choices = schema["enum"]
        if not all(choice is None or type(choice) is str for choice in choices):
            raise _Unsupported
        allowed = frozenset(choice for choice in choices if choice is not None)
        null_allowed = None in choices
        checks.append(
            lambda value: (value is None and null_allowed) or (type(value) is str and value in allowed)
        )
    if len(checks) == 1:
        return checks[0]
    return lambda value: all(check(value) for check in checks)


def _string_checks(schema: dict[str, Any]) -> list[Check]:
    if not {"minLength", "maxLength", "pattern"} & schema.keys():
        return []
    shortest = int(schema.get("minLength", 0))
    longest = int(schema.get("maxLength", -1))
    search = re.compile(schema.get("pattern", "")).search  # what jsonschema does: re.search

    def check(value: Any) -> bool:
        if type(value) is not str:
            return True
        return shortest <= len(value) and (longest < 0 or len(value) <= longest) and search(value) is not None

    return [check]


def _number_checks(schema: dict[str, Any]) -> list[Check]:
    checks: list[Check] = []
    if "minimum" in schema:
        low = schema["minimum"]
        checks.append(lambda value: type(value) not in (int, float) or value >= low)
    if "maximum" in schema:
        high = schema["maximum"]
        checks.append(lambda value: type(value) not in (int, float) or value <= high)
    return checks


def _array_checks(schema: dict[str, Any]) -> list[Check]:
    checks: list[Check] = []
    if "minItems" in schema:
        fewest = int(schema["minItems"])
        checks.append(lambda value: type(value) is not list or len(value) >= fewest)
    if "maxItems" in schema:
        most = int(schema["maxItems"])
        checks.append(lambda value: type(value) is not list or len(value) <= most)
    if "items" in schema:
        item = _compile(schema["items"])
        checks.append(lambda value: type(value) is not list or all(item(element) for element in value))
    return checks


def _object_checks(schema: dict[str, Any]) -> list[Check]:
    checks: list[Check] = []
    properties = {name: _compile(sub) for name, sub in schema.get("properties", {}).items()}
    required = tuple(schema.get("required", ()))
    closed = schema.get("additionalProperties", True)
    if closed not in (True, False):  # a schema for the other properties
        raise _Unsupported

    def check(value: Any) -> bool:
        if type(value) is not dict:
            return True
        for name, field in value.items():
            sub = properties.get(name)
            if sub is None:
                if closed is False:
                    return False
            elif not sub(field):
                return False
        return all(name in value for name in required)

    checks.append(check)
    return checks
