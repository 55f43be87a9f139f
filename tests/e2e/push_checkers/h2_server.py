"""A small HTTP/2 server over TLS (ALPN h2) for the push checkers.

It runs its own asyncio loop on a background thread; each request is handed
to ``handler(method, path, headers, body) -> (status, headers, body)``. Every
request is recorded, and tests wait for records with ``wait_for`` (a
condition variable, no sleeps).
"""

import asyncio
import datetime
import ipaddress
import os
import ssl
import threading

import h2.config
import h2.exceptions
import h2.connection
import h2.events
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def make_tls_files(directory):
    """A throwaway CA and a server certificate for 127.0.0.1; returns
    (ca_file, cert_file, key_file)."""
    now = datetime.datetime.utcnow()
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "parley test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=7))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=7))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
                critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = [os.path.join(directory, n) for n in ("ca.pem", "server.pem", "server.key")]
    with open(paths[0], "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(paths[1], "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(paths[2], "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return paths


class H2Server:
    def __init__(self, handler, cert_file, key_file):
        self.handler = handler
        self.ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ctx.load_cert_chain(cert_file, key_file)
        self.ctx.set_alpn_protocols(["h2"])
        self.port = None
        self.connections = 0
        self.cond = threading.Condition()
        self._loop = None
        self._server = None
        self._thread = None

    @property
    def url(self):
        return f"https://127.0.0.1:{self.port}"

    def start(self):
        ready = threading.Event()

        def main():
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            self._server = self._loop.run_until_complete(asyncio.start_server(
                self._serve, "127.0.0.1", 0, ssl=self.ctx))
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()
            self._server.close()
            # Connections still open (parleyd's long-lived one) end here.
            tasks = [t for t in asyncio.all_tasks(self._loop) if not t.done()]
            for t in tasks:
                t.cancel()
            self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            self._loop.run_until_complete(self._server.wait_closed())
            self._loop.close()

        self._thread = threading.Thread(target=main, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self):
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def wait_for(self, predicate, timeout=20.0):
        """Waits until predicate() is true (checked under the lock on every
        change); returns its last value."""
        with self.cond:
            self.cond.wait_for(predicate, timeout)
            return predicate()

    def changed(self):
        with self.cond:
            self.cond.notify_all()

    async def _serve(self, reader, writer):
        with self.cond:
            self.connections += 1
            self.cond.notify_all()
        conn = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=False, header_encoding="utf-8"))
        conn.initiate_connection()
        writer.write(conn.data_to_send())
        streams = {}
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                for event in conn.receive_data(data):
                    if isinstance(event, h2.events.RequestReceived):
                        streams[event.stream_id] = [dict(event.headers), bytearray()]
                    elif isinstance(event, h2.events.DataReceived):
                        streams[event.stream_id][1] += event.data
                        conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                    elif isinstance(event, h2.events.StreamEnded):
                        headers, body = streams.pop(event.stream_id)
                        status, extra, out = self.handler(
                            headers.get(":method"), headers.get(":path"), headers, bytes(body))
                        resp = [(":status", str(status))] + list(extra.items())
                        resp.append(("content-length", str(len(out))))
                        conn.send_headers(event.stream_id, resp, end_stream=not out)
                        if out:
                            conn.send_data(event.stream_id, out, end_stream=True)
                    elif isinstance(event, h2.events.ConnectionTerminated):
                        break
                writer.write(conn.data_to_send())
                await writer.drain()
        except (ConnectionError, ssl.SSLError, h2.exceptions.ProtocolError):
            pass
        finally:
            try:
                writer.close()
            except RuntimeError:
                pass    # the loop is shutting down
