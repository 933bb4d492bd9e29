"""Notifications (the bell) and email: written once per dedupe key, sent over SMTP once.

Every notification and email carries a dedupe key (e.g. ``event:42:user:7``); the unique index
makes a retried or duplicated job write nothing twice. Email rows are claimed before sending
(``sent_at`` set WHERE it is still NULL), so two workers never send the same message.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage as MimeMessage
from email.utils import make_msgid
from typing import Any
from urllib.parse import unquote, urlparse

from trustdesk.core.clock import now
from trustdesk.core.tables import EmailMessage, Notification
from trustdesk.settings import get_settings

log = logging.getLogger("trustdesk.notify")


@dataclass(frozen=True, slots=True)
class Note:
    """One message for one user: the bell shows title/body/link, the email adds a footer."""

    user_id: int
    key: str          # dedupe key, unique per (what happened, who)
    title: str
    body: str
    link: str = ""
    email: bool = True
    at: datetime | None = None  # when it happened (the event's time); default: now


async def deliver(notes: list[Note]) -> list[int]:
    """Write notifications and queue emails (call inside a transaction); returns new email ids."""
    if not notes:
        return []
    from trustdesk.accounts.tables import User

    stamp = now()
    user_ids = sorted({n.user_id for n in notes})
    users = {r["id"]: r for r in await User.select(User.id, User.email, User.active).where(
        User.id.is_in(user_ids))}
    keys = [n.key[:120] for n in notes]
    seen = {r["dedupe_key"] for r in await Notification.select(Notification.dedupe_key).where(
        Notification.dedupe_key.is_in(keys))}
    email_ids: list[int] = []
    for note in notes:
        if note.user_id not in users or note.key[:120] in seen:
            continue
        seen.add(note.key[:120])
        await Notification.insert(Notification(
            created_at=note.at or stamp, user_id=note.user_id, dedupe_key=note.key[:120],
            title=note.title[:200], body=note.body, link=note.link[:300],
        )).on_conflict(action="DO NOTHING")
        address = users[note.user_id]["email"]
        if note.email and address and users[note.user_id]["active"]:
            rows = await EmailMessage.insert(EmailMessage(
                created_at=stamp, dedupe_key=note.key[:120], to_address=address,
                subject=note.title[:255], body=email_body(note), sent_at=None, error="",
            )).on_conflict(action="DO NOTHING").returning(EmailMessage.id)
            email_ids.extend(r["id"] for r in rows)
    return email_ids


def email_body(note: Note) -> str:
    base = get_settings().public_url
    link = f"\n\nOpen it: {base}{note.link}" if note.link else ""
    return (f"{note.body}{link}\n\n--\nTrustDesk holds payments in escrow until buyers confirm "
            f"delivery. You get this email because you have an account at {base}.\n")


def _smtp_send(url: str, sender: str, to: str, subject: str, body: str) -> None:
    """Blocking SMTP send (run in a thread). smtp://user:pass@host:port (STARTTLS when the server
    offers it), smtps://… for TLS from the start."""
    parsed = urlparse(url)
    host = parsed.hostname or "localhost"
    msg = MimeMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="trustdesk")
    msg.set_content(body)
    if parsed.scheme == "smtps":
        client: smtplib.SMTP = smtplib.SMTP_SSL(host, parsed.port or 465, timeout=20)
    else:
        client = smtplib.SMTP(host, parsed.port or 25, timeout=20)
    try:
        if parsed.scheme != "smtps":
            client.ehlo()
            if client.has_extn("starttls"):  # e.g. port 587: upgrade before sending a password
                client.starttls()
                client.ehlo()
        if parsed.username:
            client.login(unquote(parsed.username), unquote(parsed.password or ""))
        client.send_message(msg)
    finally:
        try:
            client.quit()
        except smtplib.SMTPException:
            pass


async def send_email(email_id: int) -> str:
    """Send one stored email at most once. Returns "sent", "stored" (no SMTP: dev mailbox only)
    or "done" (someone already sent it). Raises on SMTP failure (the job retries)."""
    stamp = now()
    claimed = await EmailMessage.update({EmailMessage.sent_at: stamp}).where(
        (EmailMessage.id == email_id) & EmailMessage.sent_at.is_null()
    ).returning(EmailMessage.id, EmailMessage.to_address, EmailMessage.subject, EmailMessage.body)
    if not claimed:
        return "done"
    row: dict[str, Any] = claimed[0]
    settings = get_settings()
    if not settings.smtp_url:
        note = "" if not settings.is_production else "not sent: TRUSTDESK_SMTP_URL is not set"
        if note:
            log.warning("email %s stored but not sent: TRUSTDESK_SMTP_URL is empty", email_id)
            await EmailMessage.update({EmailMessage.error: note}).where(EmailMessage.id == email_id)
        return "stored"
    try:
        await asyncio.to_thread(_smtp_send, settings.smtp_url, settings.mail_from,
                                row["to_address"], row["subject"], row["body"])
    except Exception as exc:
        # Un-claim so a retry (or the sweep) sends it; record why it failed.
        await EmailMessage.update({EmailMessage.sent_at: None,
                                   EmailMessage.error: f"{type(exc).__name__}: {exc}"[:2000]}
                                  ).where(EmailMessage.id == email_id)
        raise
    await EmailMessage.update({EmailMessage.error: ""}).where(
        (EmailMessage.id == email_id) & (EmailMessage.error != ""))
    return "sent"
