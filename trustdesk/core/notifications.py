"""Pages: /notifications (the bell's list; mark read / mark all read) and /dev/mailbox
(emails TrustDesk stored, shown only when TRUSTDESK_ENV=development)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from trustdesk.accounts.guards import requires_login
from trustdesk.core.clock import aware, now
from trustdesk.core.tables import EmailMessage, Notification
from trustdesk.core.web import current_user, flash, page, safe_next
from trustdesk.settings import get_settings

PAGE_SIZE = 50


async def list_notifications(user_id: int, limit: int = PAGE_SIZE,
                             offset: int = 0) -> list[dict[str, Any]]:
    rows = await Notification.select().where(Notification.user_id == user_id).order_by(
        Notification.created_at, Notification.id, ascending=False).limit(limit).offset(offset)
    for row in rows:
        row["created_at"] = aware(row["created_at"])
        row["read_at"] = aware(row["read_at"])
    return rows


async def mark_read(user_id: int, notification_id: int | None = None) -> int:
    """Mark one (or every) unread notification of `user_id` read; returns how many changed."""
    where = (Notification.user_id == user_id) & Notification.read_at.is_null()
    if notification_id is not None:
        where = where & (Notification.id == notification_id)
    rows = await Notification.update({Notification.read_at: now()}).where(where).returning(
        Notification.id)
    return len(rows)


class NotificationController(Controller):
    path = "/notifications"
    guards = [requires_login]

    @get("/")
    async def index(self, request: Request, page_no: FromQuery[int] = 1) -> Template:
        user = current_user(request)
        assert user is not None
        page_no = max(1, page_no)
        rows = await list_notifications(user["id"], PAGE_SIZE + 1, (page_no - 1) * PAGE_SIZE)
        return page("notifications/list.html", notifications=rows[:PAGE_SIZE],
                    page_no=page_no, has_more=len(rows) > PAGE_SIZE)

    @post("/{notification_id:int}/read")
    async def read_one(self, request: Request, notification_id: FromPath[int]) -> Redirect:
        user = current_user(request)
        assert user is not None
        row = await Notification.select(Notification.link).where(
            (Notification.id == notification_id) & (Notification.user_id == user["id"])).first()
        if row is None:
            raise NotFoundException()
        await mark_read(user["id"], notification_id)
        form = await request.form()
        if form.get("open") and row["link"]:
            return Redirect(path=safe_next(row["link"], "/notifications"), status_code=303)
        return Redirect(path="/notifications", status_code=303)

    @post("/read-all")
    async def read_all(self, request: Request) -> Redirect:
        user = current_user(request)
        assert user is not None
        count = await mark_read(user["id"])
        flash(request, f"Marked {count} notification{'s' if count != 1 else ''} as read."
              if count else "Nothing unread.", "success" if count else "info")
        return Redirect(path="/notifications", status_code=303)


def _dev_only() -> None:
    if get_settings().env != "development":
        raise NotFoundException()


class MailboxController(Controller):
    path = "/dev/mailbox"

    @get("/")
    async def index(self, to: FromQuery[str] = "") -> Template:
        _dev_only()
        query = EmailMessage.select().order_by(EmailMessage.id, ascending=False).limit(200)
        if to:
            query = query.where(EmailMessage.to_address == to.strip().lower())
        rows = await query
        for row in rows:
            row["created_at"] = aware(row["created_at"])
            row["sent_at"] = aware(row["sent_at"])
        return page("dev/mailbox.html", emails=rows, to=to)

    @get("/{email_id:int}")
    async def show(self, email_id: FromPath[int]) -> Template:
        _dev_only()
        row = await EmailMessage.select().where(EmailMessage.id == email_id).first()
        if row is None:
            raise NotFoundException()
        row["created_at"] = aware(row["created_at"])
        row["sent_at"] = aware(row["sent_at"])
        return page("dev/email.html", email=row)


ROUTES = [NotificationController, MailboxController]
