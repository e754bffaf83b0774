"""API fuzzing helpers on top of schemathesis: hypothesis settings, per-operation strategies,
the string inputs of an operation read from the OpenAPI document, and a dictionary of hostile
values to put in each of them.

Random generation rarely hits the values that break servers (a NUL byte, a date at the end of
the calendar with an offset), so `hostile_cases` sends each of them to every string input of
every operation, deterministically, next to the random fuzzing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis import APIOperation, Case, GenerationMode, Response

ERROR_FIELDS = {"status", "code", "message", "details"}

# Any string input. Few, so every one goes to every string input of every operation.
HOSTILE_TEXT: tuple[str, ...] = (
    "a\x00b",  # PostgreSQL text cannot hold NUL
    "",
    "\t\r\n\x1b[0m\x7f",  # control characters
    "\u202e\ufeff💌 émoji ü",  # RTL override, BOM, emoji, accents
    "a" * 1000,  # beyond every documented maxLength
    "%00%2e%2e%2f../../etc/passwd",
    "' OR '1'='1' --\\",
    "YV8A",  # base64url of "a_\x00": a well-formed cursor that decodes to a NUL
)
# Only where the value travels inside JSON: a lone surrogate cannot be URL-encoded.
HOSTILE_JSON_ONLY: tuple[str, ...] = ("\ud800",)
# Inputs documented as `format: date-time`: the ends of the calendar, with offsets.
HOSTILE_DATETIMES: tuple[str, ...] = (
    "0001-01-01T00:00:00+23:59",
    "9999-12-31T23:59:59-23:59",
    "2024-02-30T00:00:00Z",
)


def hypothesis_settings_for(max_examples: int) -> Any:
    """Reproducible (derandomized, no example database), no deadline, no slowness complaints."""
    return hypothesis_settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        print_blob=False,
        report_multiple_bugs=False,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )


def cases(operation: APIOperation, **fixed: Any) -> st.SearchStrategy[Case]:
    """Schemathesis' valid and invalid inputs for one operation."""
    return st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE, **fixed),
        operation.as_strategy(GenerationMode.NEGATIVE, **fixed),
    )


def fuzz(
    operation: APIOperation,
    strategy: st.SearchStrategy[Case],
    max_examples: int,
    check: Callable[[Case], None],
) -> str | None:
    """Run `check` over generated cases of one operation: the (shrunk) failure as text, or None."""

    @hypothesis_settings_for(max_examples)
    @given(case=strategy)
    def run(case: Case) -> None:
        check(case)

    try:
        run()
    # schemathesis' FailureGroup is a BaseExceptionGroup, not an Exception.
    except (Exception, BaseExceptionGroup) as exc:
        return failure_text(operation, exc)
    return None


def failure_text(operation: APIOperation, exc: BaseException) -> str:
    notes = "\n".join(getattr(exc, "__notes__", []))  # hypothesis: the falsifying example
    return f"== {operation.label}\n{exc}\n{notes}".rstrip()


def describe(case: Case, response: Response, headers: dict[str, str] | None) -> str:
    body = response.content[:500].decode("utf-8", "replace") if response.content else ""
    curl = case.as_curl_command(headers=headers)
    return f"{case.operation.label} -> {response.status_code} {body}\n    reproduce: {curl}"


def assert_error_shape(case: Case, response: Response, headers: dict[str, str] | None) -> None:
    """Every error is {status, code, message, details} with `status` = the HTTP status."""
    if response.status_code < 400:
        return
    try:
        body = json.loads(response.content)
    except ValueError:
        body = None
    assert isinstance(body, dict) and set(body) == ERROR_FIELDS, (
        "error without the {status, code, message, details} shape: "
        + describe(case, response, headers)
    )
    assert body["status"] == response.status_code, describe(case, response, headers)


@dataclass(frozen=True)
class Slot:
    """One string input of an operation: a path or query parameter, or a JSON body property."""

    location: str  # "path" | "query" | "body"
    name: str
    format: str | None
    array: bool  # a list of strings (body only)


def _resolve(root: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and isinstance(node.get("$ref"), str):
        target: Any = root
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _string_kind(root: dict[str, Any], node: Any) -> tuple[bool, str | None] | None:
    """(is_array, format) when the schema is (or may be) a string or a list of strings."""
    node = _resolve(root, node)
    if not isinstance(node, dict):
        return None
    for variant in node.get("oneOf") or node.get("anyOf") or [node]:
        variant = _resolve(root, variant)
        types = variant.get("type")
        types = types if isinstance(types, list) else [types]
        if "string" in types:
            return False, variant.get("format") or node.get("format")
        if "array" in types:
            inner = _string_kind(root, variant.get("items", {}))
            if inner is not None and not inner[0]:
                return True, inner[1]
    return None


def string_slots(operation: APIOperation) -> list[Slot]:
    root: dict[str, Any] = operation.schema.raw_schema
    raw: dict[str, Any] = operation.definition.raw
    slots = []
    for param in raw.get("parameters", []):
        param = _resolve(root, param)
        kind = _string_kind(root, param.get("schema", {}))
        if param.get("in") in ("path", "query") and kind is not None and not kind[0]:
            slots.append(Slot(param["in"], param["name"], kind[1], array=False))
    body = _resolve(root, raw.get("requestBody", {}))
    schema = _resolve(root, body.get("content", {}).get("application/json", {}).get("schema", {}))
    for name, prop in (schema.get("properties") or {}).items():
        kind = _string_kind(root, prop)
        if kind is not None:
            slots.append(Slot("body", name, kind[1], array=kind[0]))
    return slots


def hostile_values(slot: Slot) -> tuple[str, ...]:
    values = HOSTILE_TEXT + (HOSTILE_DATETIMES if slot.format == "date-time" else ())
    return values + (HOSTILE_JSON_ONLY if slot.location == "body" else ())


def hostile_cases(
    operation: APIOperation,
    *,
    known_ids: dict[str, str],
    base_bodies: dict[str, dict[str, Any]],
) -> Iterator[Case]:
    """Each hostile value in each string input, the rest of the request valid where we can.

    Path parameters not under test take `known_ids` (real ids, so query and body inputs reach
    the queries instead of a 404), else "x"; bodies start from `base_bodies[label]` or {}.
    """
    slots = string_slots(operation)
    path_names = [s.name for s in slots if s.location == "path"]
    has_body = "requestBody" in operation.definition.raw
    base_path = {n: quote(known_ids.get(n, "x"), safe="") for n in path_names}
    base_body = base_bodies.get(operation.label, {})
    for slot in slots:
        for value in hostile_values(slot):
            path = dict(base_path)
            query: dict[str, Any] = {}
            body: Any = dict(base_body)
            if slot.location == "path":
                path[slot.name] = quote(value, safe="")
            elif slot.location == "query":
                query[slot.name] = value
            else:
                body[slot.name] = [value] if slot.array else value
            if has_body:
                yield operation.Case(
                    path_parameters=path, query=query, body=body, media_type="application/json"
                )
            else:
                yield operation.Case(path_parameters=path, query=query)
