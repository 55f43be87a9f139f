"""A local APNs: checks what api.push.apple.com checks and answers as it does.

- the provider token: an ES256 JWT whose signature verifies with the public
  half of the team's key, with ``kid`` = the key id, ``iss`` = the team id
  and an ``iat`` less than an hour old (403 InvalidProviderToken /
  ExpiredProviderToken otherwise);
- headers: ``apns-topic`` (the app's), ``apns-push-type`` alert/background,
  ``apns-priority`` 10/5 (5 for background), ``apns-collapse-id`` of at most
  64 bytes; a JSON body with an ``aps`` dictionary, at most 4 KiB;
- the device token: registered ones get 200 with an ``apns-id``; dead ones
  410 Unregistered; unknown ones 400 BadDeviceToken;
- throttling: ``fail_next(token, [429, 503])`` answers those first.
"""

import json
import time
import uuid

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from .checker import PushChecker


def make_apns_key(path):
    """Writes a .p8 (PKCS#8 PEM, P-256) key; returns its public key PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    with open(path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


class ApnsChecker(PushChecker):
    """Accepted pushes are {"token", "headers", "payload"}."""

    def __init__(self, public_pem, key_id, team_id, topic, cert_file, key_file):
        super().__init__(cert_file, key_file)
        self.public_pem = public_pem
        self.key_id = key_id
        self.team_id = team_id
        self.topic = topic
        self.jwts = set()           # distinct provider tokens seen

    def _answer(self, status, reason, token):
        self.record_rejection(status, reason, token)
        return status, {"apns-id": str(uuid.uuid4())}, json.dumps({"reason": reason}).encode()

    def handle(self, method, path, headers, body):
        token = path.rsplit("/", 1)[-1] if path else ""
        if method != "POST" or not path.startswith("/3/device/"):
            return self._answer(405 if method != "POST" else 404, "MethodNotAllowed", token)
        auth = headers.get("authorization", "")
        if not auth.startswith("bearer "):
            return self._answer(403, "MissingProviderToken", token)
        provider = auth[len("bearer "):]
        try:
            header = jwt.get_unverified_header(provider)
            claims = jwt.decode(provider, self.public_pem, algorithms=["ES256"],
                                options={"require": ["iss", "iat"]})
        except jwt.PyJWTError:
            return self._answer(403, "InvalidProviderToken", token)
        if header.get("kid") != self.key_id or claims.get("iss") != self.team_id:
            return self._answer(403, "InvalidProviderToken", token)
        if not (time.time() - 3600 < claims["iat"] <= time.time() + 60):
            return self._answer(403, "ExpiredProviderToken", token)
        if headers.get("apns-topic") != self.topic:
            return self._answer(400, "TopicDisallowed", token)
        push_type = headers.get("apns-push-type")
        if push_type not in ("alert", "background"):
            return self._answer(400, "InvalidPushType", token)
        priority = headers.get("apns-priority")
        if priority not in ("10", "5") or (push_type == "background" and priority != "5"):
            return self._answer(400, "BadPriority", token)
        collapse = headers.get("apns-collapse-id")
        if collapse is not None and len(collapse.encode()) > 64:
            return self._answer(400, "BadCollapseId", token)
        apns_id = headers.get("apns-id")
        if apns_id is not None:
            try:
                uuid.UUID(apns_id)
            except ValueError:
                return self._answer(400, "BadMessageId", token)
        if len(body) > 4096:
            return self._answer(413, "PayloadTooLarge", token)
        try:
            payload = json.loads(body)
        except ValueError:
            return self._answer(400, "PayloadEmpty", token)
        if not isinstance(payload, dict) or not isinstance(payload.get("aps"), dict):
            return self._answer(400, "PayloadEmpty", token)
        with self.server.cond:
            pending = self.failures.get(token)
            if pending:
                status = pending.pop(0)
                reason = "TooManyRequests" if status == 429 else "ServiceUnavailable"
                self.rejected.append((status, reason, token))
                self.server.cond.notify_all()
                return status, {}, json.dumps({"reason": reason}).encode()
        if token in self.dead:
            return self._answer(410, "Unregistered", token)
        if token not in self.valid:
            return self._answer(400, "BadDeviceToken", token)
        apns_id = apns_id or str(uuid.uuid4())
        with self.server.cond:
            self.jwts.add(provider)
            self.pushes.append({"token": token, "headers": dict(headers), "payload": payload,
                                "apns_id": apns_id})
            self.server.cond.notify_all()
        return 200, {"apns-id": apns_id}, b""
