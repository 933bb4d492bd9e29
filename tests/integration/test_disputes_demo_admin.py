"""Demo disputes exist in every state (idempotently); the admin's dispute tables refuse edits,
and its forms act only through the services, for mediators only."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.integration.test_disputes_support import file, make_cast
from trustdesk.disputes import admin_config, services
from trustdesk.disputes.states import DisputeState
from trustdesk.disputes.tables import Dispute


async def test_demo_has_disputes_in_every_state_and_is_idempotent() -> None:
    from trustdesk.demo import load_demo

    assert await load_demo() is True
    count = await Dispute.count()
    states = {d["state"] for d in await Dispute.select(Dispute.state)}
    assert states == {s.value for s in DisputeState}
    resolutions = {d["resolution"] for d in await Dispute.select(Dispute.resolution)}
    assert {"agreement", "ruling", "mandated", "withdrawn"} <= resolutions
    await load_demo()
    assert await Dispute.count() == count


def test_admin_tables_refuse_every_edit() -> None:
    from fastapi import HTTPException

    for config in admin_config.TABLES:
        validators = config.validators
        for name in ("post_single", "put_single", "patch_single", "delete_single", "delete_all"):
            hooks = getattr(validators, name)
            assert hooks, (config.table_class, name)
            with pytest.raises(HTTPException) as info:
                hooks[0]()
            assert info.value.status_code == 405
    filters = {c._meta.name for c in admin_config.TABLES[0].visible_filters}
    assert {"state", "reason", "assigned_mediator", "overdue"} <= filters


def request_as(user) -> SimpleNamespace:
    return SimpleNamespace(user=SimpleNamespace(user=user))


async def test_admin_forms_call_the_services_and_report_errors() -> None:
    cast = await make_cast()
    d = await file(cast)
    await services.contest(d.id, statement="Nothing wrong with it at all.", actor=cast.s)
    with pytest.raises(ValueError, match="Only mediators"):
        await admin_config.assign_to_me(request_as(cast.buyer), admin_config.AssignModel(dispute_id=d.id))
    message = await admin_config.assign_to_me(request_as(cast.mediator),
                                              admin_config.AssignModel(dispute_id=d.id))
    assert "assigned to you" in message
    with pytest.raises(ValueError, match="at least the item price"):
        await admin_config.rule_dispute(request_as(cast.mediator), admin_config.RuleModel(
            dispute_id=d.id, outcome="partial_refund", amount="10", reasons="Upheld, minor flaw only."))
    with pytest.raises(ValueError, match="not an amount"):
        await admin_config.rule_dispute(request_as(cast.mediator), admin_config.RuleModel(
            dispute_id=d.id, outcome="partial_refund", amount="ten", reasons="Upheld, minor flaw only."))
    message = await admin_config.ask_for_information(request_as(cast.mediator), admin_config.InfoModel(
        dispute_id=d.id, party="seller", question="Send the courier receipt please.", due_in_hours=24))
    assert "Asked the seller" in message
    message = await admin_config.rule_dispute(request_as(cast.mediator), admin_config.RuleModel(
        dispute_id=d.id, outcome="refund_after_return", reasons="Return it and get the price back.",
        return_address="Shop 4, Liberty Market, Lahore"))
    assert "after the item is returned" in message
    message = await admin_config.confirm_return(request_as(cast.mediator),
                                                admin_config.ConfirmReturnModel(dispute_id=d.id))
    assert "refunded" in message
    assert (await services.get_dispute(d.id)).state == "resolved"
