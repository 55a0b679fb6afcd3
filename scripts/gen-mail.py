#!/usr/bin/env python3
"""Generate realistic RFC 5322 test mail (CRLF line ends), python3 stdlib only.

  gen-mail.py demo OUTDIR            ~36 messages for the demo support@example.com mailbox:
                                     threads, attachments, German/French/Japanese, a newsletter,
                                     an out-of-office reply; dates spread over the last two weeks.
  gen-mail.py bench N OUTDIR [--seed S]
                                     N messages, 2-51 KB (median ~11 KB), 10% with a base64
                                     attachment, ~20% replies (In-Reply-To/References), unique
                                     Message-IDs; the same seed gives the same bytes.

Files are written as OUTDIR/NNN-slug.eml (demo) or OUTDIR/NNNNNN.eml (bench), sorted by date.
"""

import argparse
import base64
import binascii
import datetime as dt
import email.policy
import email.utils
import html
import math
import os
import random
import struct
import sys
import zlib
from email.message import EmailMessage
from email.header import Header

SUPPORT = ("Example Support", "support@example.com")
# SMTP policy: CRLF line ends, RFC 2047 for non-ASCII headers, lines folded at 78.
POLICY = email.policy.SMTP


# ---------------------------------------------------------------- attachments

def tiny_pdf(title: str) -> bytes:
    """A small but structurally valid one-page PDF showing `title`."""
    text = title.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    content = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode("latin-1", "replace")
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def tiny_png(w: int, h: int, seed: int) -> bytes:
    """A real RGB PNG: a coloured 'screenshot' with a title bar and a red error box."""
    rnd = random.Random(seed)
    bg = (rnd.randrange(200, 256), rnd.randrange(200, 256), rnd.randrange(200, 256))
    rows = []
    for y in range(h):
        row = bytearray(b"\x00")  # filter type 0
        for x in range(w):
            if y < h // 8:
                px = (40, 60, 110)  # title bar
            elif h // 3 < y < h // 2 and w // 4 < x < 3 * w // 4:
                px = (220, 50, 50)  # error dialog
            else:
                px = bg
            row += bytes(px)
        rows.append(bytes(row))
    raw = zlib.compress(b"".join(rows), 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", binascii.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", raw) + chunk(b"IEND", b""))


def sample_csv(rows: int, seed: int) -> bytes:
    rnd = random.Random(seed)
    lines = ["order_id,date,customer,amount_eur,status"]
    for i in range(rows):
        d = dt.date(2026, 10, 1) + dt.timedelta(days=rnd.randrange(60))
        lines.append(f"{48000 + i},{d.isoformat()},{rnd.choice(FIRST)} {rnd.choice(LAST)},"
                     f"{rnd.randrange(500, 50000) / 100:.2f},{rnd.choice(['paid', 'open', 'refunded'])}")
    return ("\r\n".join(lines) + "\r\n").encode()


# ---------------------------------------------------------------- demo mailbox

FIRST = ["Alice", "Bob", "Carol", "Dan", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy",
         "Mallory", "Niaj", "Olivia", "Peggy", "Rupert", "Sybil", "Trent", "Victor", "Walter", "Yara"]
LAST = ["Anderson", "Brooks", "Chen", "Dubois", "Evans", "Fischer", "Garcia", "Hughes", "Ito",
        "Jensen", "Kowalski", "Larsen", "Moreau", "Novak", "Okafor", "Patel", "Quinn", "Rossi"]


def msgid(tag: str, domain: str) -> str:
    return f"<{tag}@{domain}>"


def demo_threads():
    """Each thread: list of (from, subject, body, extras). extras may hold cc, attachments, html."""
    alice = ("Alice Anderson", "alice.anderson@example.org")
    bob = ("Bob Brooks", "bob@brooks-consulting.example.net")
    juergen = ("Jürgen Müller", "juergen.mueller@example.org")
    elodie = ("Élodie Moreau", "elodie.moreau@example.net")
    tanaka = ("田中 太郎", "taro.tanaka@example.org")
    carol = ("Carol Chen", "carol.chen@example.net")
    dan = ("Dan Okafor", "dan@okafor-shop.example.org")
    grace = ("Grace Hughes", "grace.hughes@example.org")
    ivan = ("Ivan Novak", "ivan.novak@example.net")
    judy = ("Judy Jensen", "judy@example.net")
    olivia = ("Olivia Patel", "olivia.patel@example.org")
    agent = ("Sam (Example Support)", "support@example.com")
    frank = ("Frank Fischer", "frank.fischer@example.net")

    return [
        # 1: login problem, customer follows up twice
        ("login", [
            (alice, "Cannot log in after password reset",
             "Hi,\n\nsince I reset my password yesterday I can't log in any more. The login page\n"
             "just says \"invalid credentials\" even though I copy the new password from the\n"
             "reset mail.\n\nMy account is alice.anderson@example.org. Can you help?\n\nThanks,\nAlice\n", {}),
            (alice, "Re: Cannot log in after password reset",
             "Hi again,\n\nI also tried a different browser (Firefox instead of Chrome), same result.\n\n"
             "Alice\n", {}),
            (alice, "Re: Cannot log in after password reset",
             "Sorry for the noise, one more detail: the reset link said it had expired, but\n"
             "it still let me set a new password. Maybe that is the problem?\n\nAlice\n", {}),
        ]),
        # 2: invoice question with PDF, then a forward of the reply with cc
        ("invoice", [
            (bob, "Question about invoice INV-2026-0412",
             "Hello Example team,\n\nattached is invoice INV-2026-0412. We were charged for 12 seats but\n"
             "our plan has 10. Could you check and send a corrected invoice?\n\n"
             "Kind regards,\nBob Brooks\nBrooks Consulting\n",
             {"attach": [("INV-2026-0412.pdf", "application", "pdf", tiny_pdf("Invoice INV-2026-0412"))]}),
            (bob, "Re: Question about invoice INV-2026-0412",
             "Hi,\n\nadding our accountant Carol in cc. Any news on the corrected invoice?\n\nBob\n",
             {"cc": [carol]}),
        ]),
        # 3: German refund request, UTF-8 body, follow-up
        ("refund-de", [
            (juergen, "Rückerstattung für Bestellung #4711 – Artikel beschädigt",
             "Sehr geehrte Damen und Herren,\n\nleider ist die gelieferte Ware (Bestellung #4711) "
             "beschädigt angekommen.\nDie Verpackung war eingedrückt, und das Gehäuse hat einen Riss.\n\n"
             "Ich bitte um Rückerstattung des Kaufpreises von 89,90 €.\n\n"
             "Mit freundlichen Grüßen\nJürgen Müller\nGartenstraße 12, 80331 München\n",
             {"attach": [("Schaden_Foto.png", "image", "png", tiny_png(96, 64, 4711))]}),
            (juergen, "Re: Rückerstattung für Bestellung #4711 – Artikel beschädigt",
             "Guten Tag,\n\nich habe noch keine Antwort erhalten. Könnten Sie mir bitte den Stand "
             "mitteilen?\n\nViele Grüße\nJürgen Müller\n", {}),
        ]),
        # 4: French billing problem
        ("billing-fr", [
            (elodie, "Problème de facturation : délai de paiement dépassé ?",
             "Bonjour,\n\nj'ai reçu un rappel indiquant que ma facture de septembre n'est pas réglée,\n"
             "alors que le prélèvement a bien été effectué le 3 octobre.\n\n"
             "Pourriez-vous vérifier ? Je joins le relevé.\n\nCordialement,\nÉlodie Moreau\n",
             {"attach": [("relevé-octobre.pdf", "application", "pdf", tiny_pdf("Releve octobre"))]}),
            (elodie, "RE: Problème de facturation : délai de paiement dépassé ?",
             "Bonjour,\n\nmerci pour votre réponse rapide. Le problème est résolu de mon côté.\n\n"
             "Bonne journée,\nÉlodie\n", {}),
        ]),
        # 5: Japanese delivery question
        ("delivery-ja", [
            (tanaka, "注文の配送について（注文番号 JP-20931）",
             "サポートご担当者様\n\n先週注文した商品（注文番号 JP-20931）がまだ届いていません。\n"
             "配送状況を確認していただけますでしょうか。\n\nよろしくお願いいたします。\n田中 太郎\n", {}),
            (tanaka, "Re: 注文の配送について（注文番号 JP-20931）",
             "お世話になっております。\n\n本日、無事に商品を受け取りました。ありがとうございました。\n\n田中\n", {}),
        ]),
        # 6: bug report with screenshot, multipart/alternative body, agent reply quoted back
        ("bug-export", [
            (carol, "Export to CSV crashes with \"Error 500\"",
             "Hi support,\n\nwhen I click Reports > Export > CSV the page shows \"Error 500\".\n"
             "Screenshot attached. Browser: Firefox 133 on Ubuntu.\n\nSteps:\n"
             "1. Open Reports\n2. Pick \"Last 90 days\"\n3. Click Export > CSV\n\nCarol\n",
             {"attach": [("screenshot.png", "image", "png", tiny_png(160, 100, 500))],
              "html": True}),
            (carol, "Re: Export to CSV crashes with \"Error 500\"",
             "Thanks, the workaround with \"Last 30 days\" works for now. Attached is the file\n"
             "I got, in case it helps.\n\n> Could you try a shorter date range while we fix it?\n\nCarol\n",
             {"attach": [("report-last-30-days.csv", "text", "csv", sample_csv(25, 30))]}),
        ]),
        # 7: shop owner, CSV import problem
        ("import", [
            (dan, "Product import rejects my CSV",
             "Hello,\n\nthe product import says \"line 3: invalid price\" for the attached file,\n"
             "but the price looks fine to me (12.50). What format do you expect?\n\nDan Okafor\n",
             {"attach": [("products.csv", "text", "csv",
                          b"sku;name;price\r\nA-100;Blue mug;9,90\r\nA-101;Red mug;12.50\r\n")]}),
            (dan, "Re: Product import rejects my CSV",
             "Ah, semicolons vs commas. Got it, it works now. Thanks!\n\nDan\n", {}),
        ]),
        # 8: feature request, single message with HTML alternative
        ("feature", [
            (grace, "Feature request: dark mode",
             "Hi,\n\nany plans for a dark mode? I use the dashboard late in the evening and the\n"
             "white background is very bright.\n\nCheers,\nGrace\n", {"html": True}),
        ]),
        # 9: account deletion (GDPR)
        ("gdpr", [
            (ivan, "Please delete my account and data (GDPR Art. 17)",
             "Hello,\n\nplease delete my account ivan.novak@example.net and all personal data you\n"
             "hold about me, as per Art. 17 GDPR. Please confirm when done.\n\nIvan Novak\n", {}),
            (ivan, "Re: Please delete my account and data (GDPR Art. 17)",
             "Hello,\n\nit has been ten days. Please confirm the deletion.\n\nIvan Novak\n", {}),
        ]),
        # 10: two-factor lockout, long thread with agent replies quoted
        ("2fa", [
            (judy, "Locked out: lost phone with authenticator app",
             "Hi,\n\nmy phone was stolen and with it my authenticator app. I can't log in.\n"
             "I still have access to my email. What can I do?\n\nJudy\n", {}),
            (judy, "Re: Locked out: lost phone with authenticator app",
             "Hi Sam,\n\nthanks. I don't have the backup codes, unfortunately. I can send a copy\n"
             "of my ID if needed.\n\n> Do you still have the backup codes from the setup?\n\nJudy\n", {}),
            (judy, "Re: Locked out: lost phone with authenticator app",
             "Got back in, thank you so much!\n\nJudy\n", {}),
        ]),
        # 11: pricing question from a prospect
        ("pricing", [
            (olivia, "Nonprofit discount?",
             "Hello,\n\nwe are a small nonprofit (12 people). Do you offer a discount for\n"
             "registered charities? Our registration number is NP-55321.\n\nBest,\nOlivia Patel\n",
             {"html": True}),
        ]),
        # 12: API rate limit question
        ("api", [
            (frank, "API returns 429 Too Many Requests",
             "Hi,\n\nour integration gets HTTP 429 after about 100 requests per minute.\n"
             "Is that the documented limit? Can it be raised for our account?\n\n"
             "Example response header:\n  Retry-After: 37\n\nFrank Fischer\n", {}),
            (frank, "Re: API returns 429 Too Many Requests",
             "Thanks, batching the requests fixed it.\n\nFrank\n", {}),
        ]),
        # 13: agent-sent notice to a customer (sent copy in INBOX via Bcc), answered by out-of-office
        ("maintenance", [
            (agent, "Scheduled maintenance on Saturday 02:00-04:00 UTC",
             "Dear customer,\n\nwe will perform scheduled maintenance this Saturday between 02:00 and\n"
             "04:00 UTC. The service may be unavailable for a few minutes.\n\nExample Support\n",
             {"to": [("Frank Fischer", "frank.fischer@example.net")]}),
            (("Frank Fischer", "frank.fischer@example.net"), "Automatic reply: Scheduled maintenance on Saturday 02:00-04:00 UTC",
             "I am out of the office until Monday with limited access to email.\n"
             "For urgent matters please contact my colleague Walter at walter@example.net.\n\n"
             "Frank Fischer\n",
             {"auto_reply": True}),
        ]),
        # 14: plain question, answered quickly, with a signature containing non-ASCII
        ("shipping", [
            (("Sybil Rossi", "sybil.rossi@example.org"), "Do you ship to Switzerland?",
             "Ciao,\n\ndo you ship to Switzerland, and are customs fees included?\n\n"
             "Grazie,\nSybil Rossi — Zürich\n", {}),
        ]),
        # 15: complaint with multiple recipients
        ("complaint", [
            (("Mallory Quinn", "mallory.quinn@example.net"), "Third time asking – where is my order??",
             "This is the THIRD time I'm writing. Order #5120 was paid two weeks ago.\n"
             "If I don't hear back today I will file a chargeback.\n\nMallory Quinn\n",
             {"cc": [("Trent Larsen", "trent.larsen@example.net")]}),
            (("Mallory Quinn", "mallory.quinn@example.net"), "Re: Third time asking – where is my order??",
             "OK, tracking number received. Thanks.\n", {}),
        ]),
        # 16: password reset mail not arriving
        ("reset-mail", [
            (("Peggy Evans", "peggy.evans@example.org"), "Password reset email never arrives",
             "Hi,\n\nI requested a password reset three times, but no email arrives (also not in spam).\n\n"
             "Peggy\n", {}),
        ]),
    ]


def build_demo(outdir: str) -> int:
    rnd = random.Random(20261129)
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    start = now - dt.timedelta(days=14)
    threads = demo_threads()
    items = []  # (date, slug, EmailMessage)

    for t_idx, (slug, msgs) in enumerate(threads):
        # thread start spread over the two weeks; later messages follow hours/days later
        t = start + dt.timedelta(hours=rnd.uniform(0, 13 * 24))
        first_subject = msgs[0][1]
        chain = []
        for m_idx, (sender, subject, body, extra) in enumerate(msgs):
            if m_idx:
                t += dt.timedelta(minutes=rnd.uniform(20, 36 * 60))
            if t > now - dt.timedelta(minutes=5):
                t = now - dt.timedelta(minutes=5 + 7 * (len(threads) - t_idx) + m_idx)
            domain = sender[1].split("@", 1)[1]
            mid = msgid(f"demo.{slug}.{m_idx + 1}.{rnd.randrange(16**10):010x}", domain)
            msg = EmailMessage(policy=POLICY)
            msg["From"] = email.utils.formataddr(sender)
            to = extra.get("to") or [SUPPORT]
            msg["To"] = ", ".join(email.utils.formataddr(a) for a in to)
            if extra.get("cc"):
                msg["Cc"] = ", ".join(email.utils.formataddr(a) for a in extra["cc"])
            msg["Subject"] = subject
            # the sender's local time, for realistic Date offsets
            tz = dt.timezone(dt.timedelta(hours=9 if "tanaka" in sender[1] else
                                          -5 if domain.endswith("example.net") else
                                          0 if domain == "example.com" else 1))
            msg["Date"] = email.utils.format_datetime(t.astimezone(tz))
            msg["Message-ID"] = mid
            if chain:
                msg["In-Reply-To"] = chain[-1]
                msg["References"] = " ".join(chain[-5:])
            msg["MIME-Version"] = "1.0"
            if extra.get("auto_reply"):
                msg["Auto-Submitted"] = "auto-replied"
                msg["X-Autoreply"] = "yes"
                msg["Precedence"] = "auto_reply"
            msg["X-Mailer"] = rnd.choice(["Thunderbird 128.5.0", "Apple Mail (2.3826)",
                                          "Microsoft Outlook 16.0", "Roundcube Webmail/1.6.9"])
            # mix the transfer encodings real clients use for non-ASCII text
            cte = ("7bit" if body.isascii() else "base64" if any(ord(c) > 0x3000 for c in body)
                   else "8bit" if slug.endswith("-fr") else "quoted-printable")
            msg.set_content(body, charset="utf-8", cte=cte)
            if extra.get("html"):
                paras = "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in body.strip().split("\n\n"))
                msg.add_alternative(f"<html><body>{paras}</body></html>", subtype="html", charset="utf-8")
            for fname, maintype, subtype, data in extra.get("attach", []):
                msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=fname)
            chain.append(mid)
            items.append((t, slug, msg))

    # HTML-only newsletters with List-Id (three issues)
    for n in range(3):
        t = start + dt.timedelta(days=2 + 5 * n, hours=7)
        msg = EmailMessage(policy=POLICY)
        msg["From"] = "ShipFast Newsletter <news@shipfast.example.net>"
        msg["To"] = "support@example.com"
        msg["Subject"] = ["Your weekly shipping update 📦", "New: same-day delivery in 12 cities",
                          "December rates & holiday cut-off dates"][n]
        msg["Date"] = email.utils.format_datetime(t)
        msg["Message-ID"] = msgid(f"nl.{t:%Y%m%d}.{n}.{rnd.randrange(16**8):08x}", "mailer.shipfast.example.net")
        msg["List-Id"] = "ShipFast customer news <news.shipfast.example.net>"
        msg["List-Unsubscribe"] = "<https://shipfast.example.net/unsubscribe?u=8f3a2>, <mailto:unsubscribe@shipfast.example.net>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        msg["Precedence"] = "bulk"
        msg["MIME-Version"] = "1.0"
        page = (
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><style>body{font-family:sans-serif}</style></head>"
            "<body><table width=\"600\" align=\"center\"><tr><td>"
            f"<h1 style=\"color:#1a5\">{msg['Subject']}</h1>"
            "<p>Hello,</p><p>here is what's new at ShipFast this week: faster pick-ups, "
            "new <b>tracking</b> features and our holiday schedule.</p>"
            "<p><a href=\"https://shipfast.example.net/news\">Read more</a></p>"
            "<img src=\"https://track.shipfast.example.net/open.gif?u=8f3a2\" width=\"1\" height=\"1\" alt=\"\">"
            "<p style=\"font-size:10px\">You receive this mail because you are a ShipFast customer. "
            "<a href=\"https://shipfast.example.net/unsubscribe?u=8f3a2\">Unsubscribe</a></p>"
            "</td></tr></table><script>alert('x')</script></body></html>")
        msg.set_content(page, subtype="html", charset="utf-8", cte="quoted-printable")
        items.append((t, "newsletter", msg))

    # a few more single customer mails to reach a realistic inbox size
    singles = [
        ("Heidi Garcia", "heidi.garcia@example.org", "Change billing address",
         "Hi,\n\nplease change our billing address to:\nGarcia GmbH, Hauptstraße 5, 10115 Berlin\n\nHeidi\n"),
        ("Victor Ito", "victor.ito@example.net", "Webhook signature verification fails",
         "Hi,\n\nthe X-Signature header of your webhooks doesn't match the HMAC I compute with the\n"
         "secret from the dashboard. Are you signing the raw body or the parsed JSON?\n\nVictor\n"),
        ("Walter Kowalski", "walter.k@example.org", "Thank you!",
         "Just wanted to say thanks for the quick help last week. Great service!\n\nWalter\n"),
        ("Yara Dubois", "yara.dubois@example.net", "Demande de devis pour 50 licences",
         "Bonjour,\n\nnous souhaiterions un devis pour 50 licences annuelles.\n\nMerci d'avance,\nYara Dubois\n"),
        ("Rupert Larsen", "rupert@example.org", "Invoice copy for October",
         "Hello,\n\ncould you resend the invoice for October? I can't find it.\n\nRupert\n"),
    ]
    for i, (name, addr, subj, body) in enumerate(singles):
        t = start + dt.timedelta(hours=rnd.uniform(0, 13.5 * 24))
        msg = EmailMessage(policy=POLICY)
        msg["From"] = email.utils.formataddr((name, addr))
        msg["To"] = email.utils.formataddr(SUPPORT)
        msg["Subject"] = subj
        msg["Date"] = email.utils.format_datetime(t)
        msg["Message-ID"] = msgid(f"single.{i}.{rnd.randrange(16**10):010x}", addr.split("@")[1])
        msg["MIME-Version"] = "1.0"
        msg.set_content(body, charset="utf-8", cte=None if body.isascii() else "quoted-printable")
        items.append((t, "single", msg))

    items.sort(key=lambda x: x[0])
    os.makedirs(outdir, exist_ok=True)
    for n, (_, slug, msg) in enumerate(items, 1):
        # EmailMessage puts MIME-Version into every sub-part; real clients only set it at the top
        for part in msg.walk():
            if part is not msg:
                del part["MIME-Version"]
        data = msg.as_bytes(policy=POLICY)
        with open(os.path.join(outdir, f"{n:03d}-{slug}.eml"), "wb") as f:
            f.write(data)
    return len(items)


# ---------------------------------------------------------------- bench

WORDS = ("the a to of and in is it you that for on with as have be at this are not but we our "
         "your can will please order invoice account login password reset error page export "
         "report customer support ticket refund shipping delivery payment plan seat billing "
         "update issue problem help thanks regards browser server request response team "
         "product price tracking number address email phone screenshot attached file data "
         "week month yesterday today tomorrow again still already maybe soon quickly").split()
UNI_SUBJ = ["Rückfrage zur Rechnung", "Problème de connexion", "注文について", "Zahlung fehlgeschlagen",
            "Ошибка при входе", "Réclamation commande"]


def bench_pool(rnd: random.Random, size: int) -> str:
    """One big block of wrapped pseudo-text; messages take random slices of it (fast)."""
    lines, line, total = [], [], 0
    while total < size:
        w = rnd.choice(WORDS)
        if sum(len(x) + 1 for x in line) + len(w) > 72:
            s = " ".join(line)
            lines.append(s)
            total += len(s) + 2
            line = []
            if rnd.random() < 0.15:
                lines.append("")
                total += 2
        line.append(w)
    return "\r\n".join(lines)


def build_bench(n: int, outdir: str, seed: int) -> int:
    rnd = random.Random(seed)
    pool = bench_pool(rnd, 200_000)
    pool_len = len(pool)

    def text(length: int) -> str:
        """About `length` chars of whole lines from the pool (a cut inside CRLF would leave a bare LF)."""
        off = rnd.randrange(0, pool_len - length - 200)
        start = pool.find("\r\n", off) + 2
        end = pool.find("\r\n", start + length)
        return pool[start:end if end > 0 else start + length]
    # one attachment blob, sliced per message: base64 of pseudo-random bytes
    blob = base64.encodebytes(rnd.randbytes(40_000)).decode().replace("\n", "\r\n")
    base = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
    step = 30 * 24 * 3600 / max(n, 1)
    people = [(f"{f} {l}", f"{f.lower()}.{l.lower()}@{d}")
              for f in FIRST for l in LAST for d in ("example.org", "example.net")]
    os.makedirs(outdir, exist_ok=True)
    sent = []  # (message-id, subject, references) of earlier messages
    mu = math.log(11_000)
    for i in range(n):
        # clamp a little inside 2-51 KB: headers and base64 line rounding move the final size a bit
        size = int(min(max(rnd.lognormvariate(mu, 0.62), 2300), 50 * 1024))
        name, addr = rnd.choice(people)
        date = base + dt.timedelta(seconds=int(i * step + rnd.uniform(0, step)))
        mid = f"<bench.{seed}.{i}.{rnd.randrange(16**8):08x}@{addr.split('@')[1]}>"
        hdr = [
            f"From: {name} <{addr}>",
            "To: Example Support <support@example.com>",
        ]
        if sent and rnd.random() < 0.20:
            p_mid, p_subj, p_refs = sent[rnd.randrange(max(0, len(sent) - 500), len(sent))]
            subj = p_subj if p_subj.startswith("Re: ") else "Re: " + p_subj
            refs = (p_refs + [p_mid])[-10:]
            hdr += [f"Subject: {subj}", f"Date: {email.utils.format_datetime(date)}",
                    f"Message-ID: {mid}", f"In-Reply-To: {p_mid}", f"References: {' '.join(refs)}"]
        else:
            if rnd.random() < 0.05:
                subj = Header(f"{rnd.choice(UNI_SUBJ)} #{i}", "utf-8").encode(linesep="\r\n")
            else:
                subj = " ".join(rnd.choice(WORDS) for _ in range(rnd.randrange(3, 9))).capitalize() + f" #{i}"
            refs = []
            hdr += [f"Subject: {subj}", f"Date: {email.utils.format_datetime(date)}", f"Message-ID: {mid}"]
        sent.append((mid, subj, refs))
        hdr.append("MIME-Version: 1.0")
        head_len = sum(len(h) + 2 for h in hdr) + 2
        if rnd.random() < 0.10:
            att_len = min(len(blob) - 1, max(1000, int(size * rnd.uniform(0.4, 0.8))))
            text_len = max(200, size - head_len - att_len - 400)
            a_off = rnd.randrange(0, len(blob) - att_len)
            a_off -= a_off % 78  # base64 line boundary (76 chars + CRLF = 78)
            att = blob[a_off:a_off + att_len - att_len % 78]
            boundary = f"=_bench_{i:06x}"
            hdr.append(f'Content-Type: multipart/mixed; boundary="{boundary}"')
            fname = rnd.choice(["report.pdf", "scan.png", "export.csv", "log.zip"])
            ctype = {"pdf": "application/pdf", "png": "image/png", "csv": "text/csv",
                     "zip": "application/zip"}[fname.rsplit(".", 1)[1]]
            body = (f"This is a multi-part message in MIME format.\r\n\r\n--{boundary}\r\n"
                    "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
                    f"{text(text_len)}\r\n\r\n--{boundary}\r\n"
                    f'Content-Type: {ctype}; name="{fname}"\r\n'
                    f'Content-Disposition: attachment; filename="{fname}"\r\n'
                    "Content-Transfer-Encoding: base64\r\n\r\n"
                    f"{att}\r\n--{boundary}--\r\n")
        else:
            text_len = max(100, size - head_len)
            hdr.append("Content-Type: text/plain; charset=us-ascii")
            hdr.append("Content-Transfer-Encoding: 7bit")
            body = text(text_len) + "\r\n"
        data = ("\r\n".join(hdr) + "\r\n\r\n" + body).encode("ascii")
        with open(os.path.join(outdir, f"{i + 1:06d}.eml"), "wb") as f:
            f.write(data)
    return n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("demo", help="demo mailbox (~36 messages)")
    d.add_argument("outdir")
    b = sub.add_parser("bench", help="N benchmark messages")
    b.add_argument("n", type=int)
    b.add_argument("outdir")
    b.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    if args.cmd == "demo":
        count = build_demo(args.outdir)
    else:
        count = build_bench(args.n, args.outdir, args.seed)
    print(f"gen-mail: wrote {count} messages to {args.outdir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
