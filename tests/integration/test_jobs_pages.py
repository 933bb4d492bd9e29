"""The notification pages, the dev mailbox and /healthz's sweep time, over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from tests.integration.conftest import post_form
from tests.support.factories import login, make_user
from trustdesk.core.clock import now
from trustdesk.core.notify import Note, deliver
from trustdesk.core.tables import Notification
from trustdesk.db import write_transaction
from trustdesk.settings import reset_settings_cache


async def notify(user_id: int, n: int = 3) -> None:
    async with write_transaction():
        await deliver([Note(user_id=user_id, key=f"test:{user_id}:{i}", title=f"Order #{i} shipped",
                            body=f"Body {i}", link=f"/orders/{i}") for i in range(n)])


async def unread(user_id: int) -> int:
    return await Notification.count().where(
        (Notification.user_id == user_id) & Notification.read_at.is_null())


class TestNotificationsPage:
    async def test_lists_my_notifications_and_the_bell_counts_unread(self, client) -> None:
        me = await make_user("buyer")
        other = await make_user("buyer")
        await notify(me.id, 3)
        await notify(other.id, 1)
        await login(client, me)
        page = await client.get("/notifications")
        assert page.status_code == 200
        assert page.text.count("shipped") == 3
        assert f"test:{other.id}" not in page.text
        assert 'class="badge-count">3<' in page.text

    async def test_mark_one_read_then_all_read(self, client) -> None:
        me = await make_user("buyer")
        await notify(me.id, 3)
        await login(client, me)
        first = await Notification.select(Notification.id).where(
            Notification.user_id == me.id).first()
        r = await post_form(client, f"/notifications/{first['id']}/read", {},
                            token_from="/notifications")
        assert r.status_code in (200, 303)
        assert await unread(me.id) == 2
        r = await post_form(client, "/notifications/read-all", {}, token_from="/notifications")
        assert await unread(me.id) == 0
        page = await client.get("/notifications")
        assert "badge-count" not in page.text

    async def test_open_marks_read_and_goes_to_the_link(self, client) -> None:
        me = await make_user("buyer")
        await notify(me.id, 1)
        await login(client, me)
        row = await Notification.select(Notification.id).where(Notification.user_id == me.id).first()
        r = await post_form(client, f"/notifications/{row['id']}/read", {"open": "1"},
                            token_from="/notifications", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/orders/0"

    async def test_someone_elses_notification_is_not_found(self, client) -> None:
        me = await make_user("buyer")
        other = await make_user("seller")
        await notify(other.id, 1)
        await login(client, me)
        row = await Notification.select(Notification.id).where(
            Notification.user_id == other.id).first()
        r = await post_form(client, f"/notifications/{row['id']}/read", {},
                            token_from="/notifications")
        assert r.status_code == 404
        assert await unread(other.id) == 1

    async def test_posting_without_the_csrf_token_changes_nothing(self, client) -> None:
        me = await make_user("buyer")
        await notify(me.id, 2)
        await login(client, me)
        r = await client.post("/notifications/read-all", data={})
        assert r.status_code == 403
        assert await unread(me.id) == 2

    async def test_signed_out_visitors_are_sent_to_sign_in(self, client) -> None:
        r = await client.get("/notifications", follow_redirects=False)
        assert r.status_code in (302, 303) and "/login" in r.headers["location"]


@pytest.fixture
def development(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TRUSTDESK_ENV", "development")
    reset_settings_cache()
    yield
    monkeypatch.undo()
    reset_settings_cache()


class TestDevMailbox:
    async def test_not_there_outside_development(self, client) -> None:
        assert (await client.get("/dev/mailbox")).status_code == 404
        assert (await client.get("/dev/mailbox/1")).status_code == 404

    async def test_shows_stored_emails_in_development(self, client, development: None) -> None:
        me = await make_user("buyer", email="amna@example.test")
        await notify(me.id, 2)
        page = await client.get("/dev/mailbox")
        assert page.status_code == 200
        assert page.text.count("amna@example.test") == 2
        one = await client.get("/dev/mailbox?to=amna@example.test")
        assert "Order #1 shipped" in one.text
        from trustdesk.core.tables import EmailMessage

        row = await EmailMessage.select(EmailMessage.id).first()
        detail = await client.get(f"/dev/mailbox/{row['id']}")
        assert detail.status_code == 200 and "/orders/" in detail.text


class TestHealth:
    async def test_healthz_reports_the_last_completed_sweep(self, client) -> None:
        from trustdesk.core import tasks

        before = (await client.get("/healthz")).json()
        assert before["last_sweep_at"] is None
        await tasks.sweep_once()
        after = (await client.get("/healthz")).json()
        assert after["broker"]["ok"] is True
        assert after["last_sweep_at"] is not None
        assert abs((now() - _parse(after["last_sweep_at"])) / timedelta(seconds=1)) < 60


def _parse(text: str):
    from datetime import datetime

    return datetime.fromisoformat(text)
