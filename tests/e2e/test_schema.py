"""The protocol's JSON Schema (protocol/parley.schema.json) and the check
parley_client.py makes with it: the schema is valid, names every op and
error code the server has, agrees with docs/PROTOCOL.md, accepts good
frames and rejects wrong ones, and a wrong frame from a server fails the
test that received it. No parleyd is needed."""

import asyncio
import pathlib
import re
import types

import jsonschema
import pytest
import websockets

import parley_client
import protocol_schema
from parley_client import Client, run
from protocol_schema import SchemaViolation

ROOT = pathlib.Path(__file__).resolve().parents[2]

ALICE, BOB = "81562331766431744", "81562339479756800"
DIRECT = f"d:{ALICE}:{BOB}"


def message(**changes):
    m = {"message_id": "81562412279037952", "conversation": DIRECT,
         "from": ALICE, "to": {"user": BOB}, "body": "hi",
         "sent_at": 1796112003011, "client_msg_id": "m1"}
    m.update(changes)
    return m


def test_the_schema_is_a_valid_draft_2020_12_schema():
    jsonschema.Draft202012Validator.check_schema(protocol_schema.SCHEMA)


def test_the_schema_names_every_op_and_error_code_of_the_server():
    ops = re.findall(r'\{"([a-z_]+)", ops::', (ROOT / "src/gateway/ops.cpp").read_text())
    assert ops and sorted(ops) == sorted(protocol_schema.OPS)
    codes = re.findall(r'case ErrorCode::[a-z_]+: return "([a-z_]+)"',
                       (ROOT / "src/core/result.cpp").read_text())
    assert codes and codes == protocol_schema.SCHEMA["$defs"]["ErrorCode"]["enum"]


def test_docs_protocol_md_and_the_schema_agree():
    """Every op and event of the schema is in docs/PROTOCOL.md's tables, and
    every complete example frame there matches the schema (a request
    without an id is the example of one that is refused)."""
    doc = (ROOT / "docs/PROTOCOL.md").read_text()
    ops_table = doc.split("### Summary", 1)[1].split("\n### ", 1)[0]
    events_table = doc.split("\n## Events", 1)[1].split("\n## ", 1)[0]
    for op in protocol_schema.OPS:
        assert re.search(rf"^\| (`[a-z_]+` / )*`{op}`( / `[a-z_]+`)* \|", ops_table, re.M), \
            f"op {op} is not in the requests table of docs/PROTOCOL.md"
    for ev in protocol_schema.EVENTS:
        assert re.search(rf"^\| `{ev}` \|", events_table, re.M), \
            f"event {ev} is not in the events table of docs/PROTOCOL.md"
    examples = 0
    for arrow, text in re.findall(r"^(→|←) (\{.*\})$", doc, re.M):
        if "…" in text:
            continue
        frame = parley_client.json.loads(text)
        if arrow == "←":
            protocol_schema.check_server_frame(frame)
        elif "id" in frame:
            protocol_schema.check_request(frame)
        examples += 1
    assert examples >= 10


@pytest.mark.parametrize("frame", [
    {"ev": "message", "seq": 7, "message": message()},
    {"ev": "message", "message": message(conversation="c:42", to={"channel": "42"})},
    {"ev": "presence", "user": BOB, "status": "offline", "last_seen": 0},
    {"ev": "receipt", "conversation": DIRECT, "user": BOB, "message_id": "5"},
    {"ev": "typing", "conversation": "g:9", "user": BOB},
    {"ev": "error", "error": {"code": "bad_request", "message": "frame is not valid JSON"}},
    {"re": 1, "ok": True},
    {"re": "x", "ok": False, "error": {"code": "rate_limited", "message": "slow down"}},
])
def test_good_server_frames_are_accepted(frame):
    protocol_schema.check_server_frame(frame)


@pytest.mark.parametrize("frame, complaint", [
    ({"ev": "message", "message": message()}, "'seq' is a required property"),
    ({"ev": "message", "seq": 3, "message": message(conversation="c:42", to={"channel": "42"})},
     "should not be valid"),
    ({"ev": "message", "seq": 0, "message": message()}, "less than the minimum"),
    ({"ev": "message", "seq": 1, "message": message(message_id=12)}, "is not of type 'string'"),
    ({"ev": "message", "seq": 1, "message": message(to={"user": BOB, "group": "1"})},
     "has too many properties"),
    ({"ev": "message", "seq": 1, "message": message(extra=1)}, "Additional properties"),
    ({"ev": "presence", "user": BOB, "status": "busy", "last_seen": 1}, "is not one of"),
    ({"ev": "typing", "conversation": "nobody-knows", "user": BOB}, "does not match"),
    ({"ev": "shout", "text": "hi"}, "is not one of"),
    ({"re": 1, "ok": False, "error": {"code": "teapot", "message": "short and stout"}},
     "is not one of"),
    ({"re": 1, "ok": False, "error": {"code": "internal"}}, "'message' is a required property"),
    ({"re": 1.5, "ok": True}, "is not valid under any of the given schemas"),
])
def test_wrong_server_frames_are_rejected(frame, complaint):
    with pytest.raises(SchemaViolation) as info:
        protocol_schema.check_server_frame(frame)
    text = str(info.value)
    assert complaint in text, text
    assert '"ev"' in text or '"re"' in text, "the message shows the frame"


def test_a_reply_is_checked_against_its_ops_reply():
    good = {"re": 2, "ok": True, "message_id": "9", "conversation": DIRECT, "sent_at": 1}
    protocol_schema.check_server_frame(good, "send")
    with pytest.raises(SchemaViolation, match="'sent_at' is a required property"):
        protocol_schema.check_server_frame({"re": 2, "ok": True, "message_id": "9",
                                            "conversation": DIRECT}, "send")
    with pytest.raises(SchemaViolation, match="Additional properties"):
        protocol_schema.check_server_frame({**good, "seq": 4}, "send")
    with pytest.raises(SchemaViolation, match="'cursor' is a required property"):
        protocol_schema.check_server_frame({"re": 3, "ok": True}, "ack")


@pytest.mark.parametrize("frame", [
    {"op": "send", "id": 1, "to": {"user": BOB}, "client_msg_id": "m1", "body": "hi"},
    {"op": "sync", "id": "s", "after": 0, "limit": 500},
    {"op": "channel_create", "id": 2, "name": "Team \u05e9\u05dc\u05d5\u05dd", "post": "admins"},
    {"op": "ping", "id": 2 ** 64 - 1},
])
def test_good_requests_are_accepted(frame):
    protocol_schema.check_request(frame)


@pytest.mark.parametrize("frame", [
    {"op": "send", "id": 1, "to": {"user": BOB}, "client_msg_id": "m1"},
    {"op": "send", "id": 1, "to": {"user": 5}, "client_msg_id": "m1", "body": "hi"},
    {"op": "sync", "id": 1, "limit": 501},
    {"op": "ping", "id": 2 ** 64},
    {"op": "ping", "id": 1, "extra": True},
    {"op": "group_create", "id": 1, "name": "pay\u202efdp.exe", "members": []},
    {"op": "no_such_op", "id": 1},
])
def test_wrong_requests_are_rejected(frame):
    with pytest.raises(SchemaViolation):
        protocol_schema.check_request(frame)


def test_http_bodies_are_checked():
    protocol_schema.check_http_request("POST", "/v1/users", {"username": "alice", "password": "long enough"})
    with pytest.raises(SchemaViolation, match="does not match"):
        protocol_schema.check_http_request("POST", "/v1/users", {"username": "Alice", "password": "long enough"})
    with pytest.raises(SchemaViolation, match="takes no JSON body"):
        protocol_schema.check_http_request("GET", "/v1/healthz", {})
    json_type = "application/json"
    protocol_schema.check_http_response("GET", "/v1/users/by-name/bob", 200, json_type,
                                        b'{"user_id":"5","username":"bob"}')
    protocol_schema.check_http_response("GET", "/v1/nothing", 404, json_type,
                                        b'{"code":"not_found","message":"no endpoint"}')
    with pytest.raises(SchemaViolation, match="'ok' was expected"):
        protocol_schema.check_http_response("GET", "/v1/healthz?x=1", 200, json_type, b'{"status":"fine"}')
    with pytest.raises(SchemaViolation, match="is not one of"):
        protocol_schema.check_http_response("POST", "/v1/users", 409, json_type,
                                            b'{"code":"taken","message":"that name is taken"}')
    with pytest.raises(SchemaViolation, match="has a body"):
        protocol_schema.check_http_response("HEAD", "/v1/healthz", 200, json_type, b"{}")


def test_a_wrong_frame_from_the_server_fails_the_test():
    """A stand-in server answers a ping and then sends a message event
    without its seq: the test that received it fails with the frame and
    the complaint, although it never looked at the event."""
    async def serve(ws, *_):
        await ws.recv()
        await ws.send('{"re":1,"ok":true}')
        await ws.send('{"ev":"message","message":' + parley_client.json.dumps(message()) + '}')
        await ws.wait_closed()

    async def body():
        async with websockets.serve(serve, "127.0.0.1", 0) as stand_in:
            port = stand_in.sockets[0].getsockname()[1]
            fake = types.SimpleNamespace(ws_url=f"ws://127.0.0.1:{port}/v1/ws")
            c = await Client.connect(fake, "token", label="checked")
            assert (await c.call("ping"))["ok"] is True
            await asyncio.sleep(0.2)    # the event arrives; nobody waits for it

    with pytest.raises(SchemaViolation) as info:
        run(body())
    text = str(info.value)
    assert text.startswith("checked: event (message)"), text
    assert "'seq' is a required property" in text and '"client_msg_id": "m1"' in text, text
