"""Checks frames and HTTP bodies against the protocol's JSON Schema
(protocol/parley.schema.json, described in docs/PROTOCOL.md).

parley_client.py calls these on everything it sends and receives. A frame
that does not match raises SchemaViolation, an AssertionError whose message
holds the frame and the schema's complaint.
"""

import json
import pathlib
import re

import jsonschema

SCHEMA_PATH = (pathlib.Path(__file__).resolve().parents[2]
               / "protocol" / "parley.schema.json")
SCHEMA = json.loads(SCHEMA_PATH.read_text())
OPS = SCHEMA["x-parley-ops"]
EVENTS = SCHEMA["x-parley-events"]

_validators = {}


class SchemaViolation(AssertionError):
    """A frame or body that the protocol's schema does not allow."""


def _validator(pointer):
    """A validator for the definition at `pointer` ("#/$defs/Name"),
    resolving its references within the whole schema."""
    v = _validators.get(pointer)
    if v is None:
        resolver = jsonschema.RefResolver.from_schema(SCHEMA)
        v = jsonschema.Draft202012Validator({"$ref": pointer},
                                            resolver=resolver)
        _validators[pointer] = v
    return v


def check(instance, pointer, what):
    """Raises SchemaViolation unless `instance` matches the definition at
    `pointer`; `what` says what the instance is, for the message."""
    errors = list(_validator(pointer).iter_errors(instance))
    if not errors:
        return
    # The deepest error is the most specific one; the others are listed.
    errors.sort(key=lambda e: len(e.absolute_path), reverse=True)
    lines = [f"{what} does not match {pointer} in {SCHEMA_PATH.name}:",
             f"  frame: {json.dumps(instance)[:2000]}"]
    for e in errors[:5]:
        where = "/".join(str(p) for p in e.absolute_path) or "(top)"
        lines.append(f"  at {where}: {e.message[:500]}")
        for sub in sorted(e.context, key=lambda s: -len(s.absolute_path))[:3]:
            sub_where = "/".join(str(p) for p in sub.absolute_path) or "(top)"
            lines.append(f"    - at {sub_where}: {sub.message[:300]}")
    raise SchemaViolation("\n".join(lines))


def check_request(frame):
    """A request a client sends: the op's own schema, or ClientFrame for an
    op the protocol does not have (which then fails)."""
    op = frame.get("op") if isinstance(frame, dict) else None
    pointer = OPS[op]["request"] if op in OPS else "#/$defs/ClientFrame"
    check(frame, pointer, f"request ({op})")


def check_server_frame(frame, op=None):
    """A frame from the server. `op` is the op of the request a reply
    answers, when known: an ok reply must then have that op's fields."""
    if isinstance(frame, dict) and "re" in frame:
        if frame.get("ok") is True and op in OPS:
            check(frame, OPS[op]["reply"], f"reply to {op}")
        else:
            check(frame, "#/$defs/Reply", f"reply (to {op or 'unknown op'})")
        return
    ev = frame.get("ev") if isinstance(frame, dict) else None
    pointer = EVENTS.get(ev, "#/$defs/Event")
    check(frame, pointer, f"event ({ev})")


# -- HTTP ---------------------------------------------------------------------

def _route(method, path):
    """The x-parley-http entry for a method and path (query dropped), or
    None for a path that is no endpoint."""
    path = path.split("?", 1)[0].split("#", 1)[0]
    if method == "HEAD":
        method = "GET"
    for e in SCHEMA["x-parley-http"]:
        pattern = "^" + re.sub(r"\\\{[a-z_]+\\\}", "[^/]+",
                               re.escape(e["path"])) + "$"
        if re.match(pattern, path) and e["method"] == method:
            return e
    return None


def check_http_request(method, path, body):
    """A JSON body a client sends. A body for an endpoint that takes none,
    or for no endpoint, is itself a violation."""
    route = _route(method, path)
    if route is None or "request" not in route:
        raise SchemaViolation(f"{method} {path} takes no JSON body in "
                              f"{SCHEMA_PATH.name}; sent {body!r}")
    check(body, route["request"], f"body of {method} {path}")


def check_http_response(method, path, status, content_type, body):
    """An answer's body: empty for HEAD and for a status listed as "none",
    the listed schema for a listed status, else an ErrorResponse."""
    what = f"answer {status} to {method} {path}"
    if method == "HEAD":
        if body:
            raise SchemaViolation(f"{what} has a body: {body[:200]!r}")
        return
    route = _route(method, path)
    listed = (route or {}).get("responses", {}).get(str(status))
    if listed == "none":
        # An answer without a body (204).
        if body:
            raise SchemaViolation(f"{what} should have no body: {body[:200]!r}")
        return
    if listed is not None and not listed.startswith("#"):
        # Not JSON (the web client's page): only the media type is checked.
        if not (content_type or "").startswith(listed):
            raise SchemaViolation(f"{what} is {content_type!r}, not {listed}")
        return
    if not (content_type or "").startswith("application/json"):
        raise SchemaViolation(f"{what} is {content_type!r}, not JSON: "
                              f"{body[:200]!r}")
    try:
        instance = json.loads(body)
    except ValueError as e:
        raise SchemaViolation(f"{what} is not JSON ({e}): {body[:200]!r}")
    check(instance, listed or "#/$defs/ErrorResponse", what)
