"""A throw-away SMTP server for tests (aiosmtpd): every accepted mail becomes a file.

    python smtp_sink.py --port 2525 --dir DIR [--host 127.0.0.1]
        [--cert CRT --key KEY [--tls-port 2526] [--untrusted-host 127.0.0.2 --untrusted-cert CRT
         --untrusted-key KEY]]

With --cert/--key the plain port also offers STARTTLS (RFC 3207) with that certificate, and
--tls-port adds a port with implicit TLS (RFC 8314). --untrusted-host serves the same ports on
a second address with another certificate (one from a CA that clients do not trust), so tests
can check that it is refused.

For each mail it writes DIR/<stamp>.eml (the DATA bytes exactly as received, CRLF line ends,
dot-unstuffed) and DIR/<stamp>.json ({"mail_from", "rcpt_tos", "eml"}), the JSON last, so a
reader that sees the JSON also sees the whole .eml. Both are written before the server answers
250 to DATA, so when the client has its 250 the files are there.

Recipients whose local part starts with "reject" are refused with 550 (permanent) and those
starting with "tempfail" with 451 (temporary), so tests can provoke both kinds of failure.
Started and stopped by scripts/smtp-sink; tests may also start their own on a free port.
"""

import argparse
import asyncio
import itertools
import json
import os
import signal
import ssl
import time

from aiosmtpd.smtp import SMTP

_counter = itertools.count()


class FileHandler:
    def __init__(self, directory):
        self.directory = directory

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local.startswith("reject"):
            return "550 5.1.1 <%s>: recipient rejected (test sink)" % address
        if local.startswith("tempfail"):
            return "451 4.3.0 <%s>: try again later (test sink)" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        stamp = "%d-%d-%d" % (time.time_ns(), os.getpid(), next(_counter))
        eml = os.path.join(self.directory, stamp + ".eml")
        meta = {"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos, "eml": eml}
        _write_atomically(eml, envelope.original_content or envelope.content)
        _write_atomically(
            os.path.join(self.directory, stamp + ".json"), json.dumps(meta).encode()
        )
        print("accepted %s from %s to %s" % (stamp, envelope.mail_from, envelope.rcpt_tos), flush=True)
        return "250 2.0.0 Message accepted for delivery"


def _write_atomically(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _tls_context(cert, key):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    return ctx


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=2525)
    p.add_argument("--dir", required=True)
    p.add_argument("--cert", help="certificate (PEM) for STARTTLS and --tls-port")
    p.add_argument("--key", help="its private key (PEM)")
    p.add_argument("--tls-port", type=int, help="a port with implicit TLS (needs --cert)")
    p.add_argument("--untrusted-host", help="serve the same ports here with --untrusted-cert")
    p.add_argument("--untrusted-cert")
    p.add_argument("--untrusted-key")
    args = p.parse_args()
    os.makedirs(args.dir, exist_ok=True)

    handler = FileHandler(args.dir)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    def smtp(tls_context):
        return lambda: SMTP(
            handler,
            hostname="frontdesk-test-sink",
            data_size_limit=50 * 1024 * 1024,
            enable_SMTPUTF8=True,
            decode_data=False,
            tls_context=tls_context,
        )

    # (host, certificate, key) of each address served
    sites = [(args.host, args.cert, args.key)]
    if args.untrusted_host:
        sites.append((args.untrusted_host, args.untrusted_cert, args.untrusted_key))
    servers = []
    for host, cert, key in sites:
        ctx = _tls_context(cert, key) if cert else None
        # plain, with STARTTLS when there is a certificate
        listeners = [(args.port, smtp(ctx), None)]
        if ctx and args.tls_port:
            listeners.append((args.tls_port, smtp(None), ctx))
        for port, factory, wrap in listeners:
            servers.append(
                loop.run_until_complete(
                    loop.create_server(
                        factory, host=host, port=port, ssl=wrap, reuse_address=True
                    )
                )
            )
            print(
                "smtp sink listening on %s:%d (%s), writing to %s"
                % (host, port, "implicit TLS" if wrap else "STARTTLS" if ctx else "plain", args.dir),
                flush=True,
            )
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, loop.stop)
    try:
        loop.run_forever()
    finally:
        for server in servers:
            server.close()
            loop.run_until_complete(server.wait_closed())
        loop.close()


if __name__ == "__main__":
    main()
