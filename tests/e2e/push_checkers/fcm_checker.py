"""A local FCM (HTTP v1) and Google OAuth2 token endpoint.

- ``POST /token``: the JWT bearer grant; the assertion must be an RS256 JWT
  that verifies with the service account's public key, with ``iss`` = its
  client_email, ``aud`` = this token URL, the firebase.messaging scope and
  an unexpired ``exp``; answers ``{"access_token", "expires_in",
  "token_type"}`` with ``expires_in`` = ``token_lifetime``;
- ``POST /v1/projects/{project}/messages:send``: needs a live access token
  (401 UNAUTHENTICATED otherwise) and a ``message`` with a ``token``, a
  ``data`` map of strings holding type, conversation, message_id and seq,
  and ``android.collapse_key`` / ``android.priority`` (HIGH or NORMAL);
  registered tokens get 200 ``{"name"}``, dead ones 404 UNREGISTERED,
  unknown ones 400 INVALID_ARGUMENT; ``fail_next`` answers 429/503 first.
"""

import json
import time
import urllib.parse

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .checker import PushChecker

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"


def make_service_account(path, project_id, token_uri):
    """Writes a service account JSON like the Firebase console's; returns the
    public key PEM and the client email."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    email = f"firebase-adminsdk@{project_id}.iam.gserviceaccount.com"
    with open(path, "w") as f:
        json.dump({
            "type": "service_account",
            "project_id": project_id,
            "private_key_id": "test-key-1",
            "private_key": key.private_bytes(serialization.Encoding.PEM,
                                             serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()).decode(),
            "client_email": email,
            "token_uri": token_uri,
        }, f)
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo), email


def _error(status, code, fcm_code=None):
    err = {"code": status, "message": code, "status": code}
    if fcm_code:
        err["details"] = [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                           "errorCode": fcm_code}]
    return json.dumps({"error": err}).encode()


class FcmChecker(PushChecker):
    """Accepted pushes are {"token", "message", "access_token"}; a rejection
    names the FCM error code when there is one."""

    def __init__(self, project_id, cert_file, key_file, token_lifetime=3600):
        super().__init__(cert_file, key_file)
        self.project_id = project_id
        self.public_pem = None      # set by configure()
        self.client_email = None
        self.token_lifetime = token_lifetime
        self.token_requests = 0
        self.access_tokens = {}     # token -> expiry (time.time())

    def configure(self, public_pem, client_email):
        self.public_pem = public_pem
        self.client_email = client_email

    @property
    def token_url(self):
        return self.server.url + "/token"

    def _reject(self, status, code, token, fcm_code=None):
        self.record_rejection(status, fcm_code or code, token)
        return status, {"content-type": "application/json"}, _error(status, code, fcm_code)

    def handle(self, method, path, headers, body):
        if method == "POST" and path == "/token":
            return self._token(headers, body)
        if method == "POST" and path == f"/v1/projects/{self.project_id}/messages:send":
            return self._send(headers, body)
        return self._reject(404, "NOT_FOUND", None)

    def _token(self, headers, body):
        form = urllib.parse.parse_qs(body.decode())
        if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"]:
            return 400, {}, json.dumps({"error": "unsupported_grant_type"}).encode()
        try:
            claims = jwt.decode(form["assertion"][0], self.public_pem, algorithms=["RS256"],
                                audience=self.token_url, options={"require": ["iss", "aud", "exp", "iat"]})
        except (jwt.PyJWTError, KeyError):
            return 400, {}, json.dumps({"error": "invalid_grant"}).encode()
        if claims["iss"] != self.client_email or SCOPE not in claims.get("scope", "").split():
            return 400, {}, json.dumps({"error": "invalid_scope"}).encode()
        with self.server.cond:
            self.token_requests += 1
            access = f"ya29.test-{self.token_requests}"
            self.access_tokens[access] = time.time() + self.token_lifetime
            self.server.cond.notify_all()
        return 200, {"content-type": "application/json"}, json.dumps(
            {"access_token": access, "expires_in": self.token_lifetime, "token_type": "Bearer"}).encode()

    def _send(self, headers, body):
        auth = headers.get("authorization", "")
        access = auth[len("Bearer "):] if auth.startswith("Bearer ") else None
        with self.server.cond:
            expiry = self.access_tokens.get(access)
        if expiry is None or expiry < time.time():
            return self._reject(401, "UNAUTHENTICATED", None)
        try:
            message = json.loads(body)["message"]
            token = message["token"]
            data = message["data"]
            android = message["android"]
        except (ValueError, KeyError, TypeError):
            return self._reject(400, "INVALID_ARGUMENT", None)
        if (not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values())
                or not {"type", "conversation", "message_id", "seq"} <= data.keys()
                or not isinstance(android.get("collapse_key"), str)
                or android.get("priority") not in ("HIGH", "NORMAL")):
            return self._reject(400, "INVALID_ARGUMENT", token)
        with self.server.cond:
            pending = self.failures.get(token)
            if pending:
                status = pending.pop(0)
                code = "QUOTA_EXCEEDED" if status == 429 else "UNAVAILABLE"
                self.rejected.append((status, code, token))
                self.server.cond.notify_all()
                return status, {"content-type": "application/json"}, _error(status, code, code)
        if token in self.dead:
            return self._reject(404, "NOT_FOUND", token, "UNREGISTERED")
        if token not in self.valid:
            return self._reject(400, "INVALID_ARGUMENT", token, "INVALID_ARGUMENT")
        with self.server.cond:
            self.pushes.append({"token": token, "message": message, "access_token": access})
            self.server.cond.notify_all()
            n = len(self.pushes)
        return 200, {"content-type": "application/json"}, json.dumps(
            {"name": f"projects/{self.project_id}/messages/{n}"}).encode()
