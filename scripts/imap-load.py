#!/usr/bin/env python3
"""APPEND message files to an IMAP folder, bytes as-is (python3 stdlib only).

  imap-load.py --host 127.0.0.1 --port 10143 --user U --password secret [--folder INBOX] FILES|DIRS...

A directory argument means every *.eml in it, sorted by name. INTERNALDATE is taken from each
message's Date header (so the folder sorts like a real mailbox); --now uses the current time.
The folder is created if it does not exist. Prints a one-line summary with the rate.
"""

import argparse
import email.utils
import imaplib
import os
import re
import sys
import time

DATE_RE = re.compile(rb"^Date:[ \t]*(.+?)\r?$", re.I | re.M)


def internaldate(data: bytes):
    head = data.split(b"\r\n\r\n", 1)[0][:8192]
    m = DATE_RE.search(head)
    if m:
        try:
            d = email.utils.parsedate_to_datetime(m.group(1).decode("ascii", "replace"))
            if d.tzinfo is not None:
                return imaplib.Time2Internaldate(d)
        except (TypeError, ValueError):
            pass
    return imaplib.Time2Internaldate(time.time())


def expand(paths):
    for p in paths:
        if os.path.isdir(p):
            for name in sorted(os.listdir(p)):
                if name.endswith(".eml"):
                    yield os.path.join(p, name)
        else:
            yield p


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=int(os.environ.get("FRONTDESK_TEST_IMAP_PORT", "10143")))
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", default="secret")
    ap.add_argument("--folder", default="INBOX")
    ap.add_argument("--now", action="store_true", help="INTERNALDATE = now instead of the Date header")
    ap.add_argument("--batch", type=int, default=200, help="messages per MULTIAPPEND command")
    ap.add_argument("--no-pipeline", action="store_true", help="one plain APPEND per message")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()

    files = list(expand(args.files))
    imap = imaplib.IMAP4(args.host, args.port)
    imap.login(args.user, args.password)
    # imaplib sends mailbox names verbatim: quote them ourselves (spaces, quotes)
    folder = imap._quote(args.folder) if re.search(r'[\s"\\(){%*]', args.folder) else args.folder
    if args.folder.upper() != "INBOX" and imap.select(folder)[0] != "OK":
        typ, resp = imap.create(folder)
        if typ != "OK":
            print(f"imap-load: CREATE {args.folder} failed: {resp}", file=sys.stderr)
            return 1
    start = time.monotonic()
    total = 0
    caps = imap.capability()[1][0].decode().upper().split()  # post-login capabilities
    # MULTIAPPEND + LITERAL+: one APPEND command carries a batch of messages without waiting for
    # "+" continuations, and Dovecot commits the batch in one transaction. Much faster than
    # one APPEND per message, whose cost grows with the folder size.
    multi = "MULTIAPPEND" in caps and "LITERAL+" in caps and not args.no_pipeline
    files_iter = iter(files)
    n = 0
    while True:
        chunk = [p for _, p in zip(range(args.batch if multi else 1), files_iter)]
        if not chunk:
            break
        parts = []
        for path in chunk:
            with open(path, "rb") as f:
                data = f.read()
            date = imaplib.Time2Internaldate(time.time()) if args.now else internaldate(data)
            total += len(data)
            parts.append((date, data))
        if multi:
            n += 1
            tag = b"L%d" % n
            cmd = [tag, b" APPEND ", folder.encode()]
            for date, data in parts:
                cmd += [b" ", date.encode(), b" {%d+}\r\n" % len(data), data]
            cmd.append(b"\r\n")
            imap.send(b"".join(cmd))
            while True:  # skip untagged lines (* N EXISTS) up to our tagged answer
                line = imap.readline()
                if not line:
                    raise OSError("connection closed by server")
                if line.startswith(tag + b" "):
                    break
            if not line.startswith(tag + b" OK"):
                print(f"imap-load: APPEND of {chunk[0]} .. {chunk[-1]} failed: {line.strip()!r}", file=sys.stderr)
                return 1
            continue
        date, data = parts[0]
        # imaplib.append() would rewrite bare LF/CR to CRLF; send the literal untouched instead
        # (this is what append() does internally, minus that rewrite).
        imap.literal = data
        typ, resp = imap._simple_command("APPEND", folder, date)
        if typ != "OK":
            print(f"imap-load: APPEND {chunk[0]} failed: {resp}", file=sys.stderr)
            return 1
    secs = time.monotonic() - start
    imap.logout()
    rate = len(files) / secs if secs > 0 else float("inf")
    print(f"imap-load: appended {len(files)} messages ({total / 1e6:.1f} MB) to {args.user}/{args.folder} "
          f"in {secs:.2f} s = {rate:.0f} msg/s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
