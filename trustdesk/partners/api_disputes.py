"""Dispute endpoints of the partner API: read the seller's disputes, answer them, file evidence.

Every write goes through trustdesk.disputes.services (respond, add_evidence) with
Actor(role=seller, via="api"): the same rules, windows and evidence checks as the web pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, PathParameter, QueryParameter

from trustdesk.core.actors import Actor, Role
from trustdesk.core.clock import aware
from trustdesk.core.errors import ValidationFailed
from trustdesk.disputes import services as disputes
from trustdesk.disputes.evidence import BytesUpload
from trustdesk.disputes.states import DisputeState
from trustdesk.disputes.tables import Dispute
from trustdesk.partners import services
from trustdesk.partners.api import (
    MAX_ID,
    READ_ERRORS,
    WRITE_ERRORS,
    Cursor,
    IdempotencyKey,
    Limit,
    _clean,
)
from trustdesk.partners.auth import partner_of

DisputeId = Annotated[int, PathParameter(ge=1, le=MAX_ID, description="The dispute's id.")]
RESPONSE_ACTIONS = {"full_refund": "accept_full_refund", "partial_refund": "offer_partial",
                    "replacement": "offer_replacement", "contest": "contest"}
FIELD_NAMES = {"amount": "amount_minor", "statement": "message", "action": "type",
               "evidence": "files"}


class Offer(msgspec.Struct):
    kind: str
    amount_minor: int | None
    keep_item: bool
    note: str


class DisputeDeadlines(msgspec.Struct):
    respond_by: datetime | None
    offer_answer_by: datetime | None
    return_ship_by: datetime | None
    return_receive_by: datetime | None
    info_due_by: datetime | None
    decide_by: datetime | None


class DisputeMessage(msgspec.Struct):
    id: int
    created_at: datetime
    author: str
    kind: str
    body: str
    amount_minor: int | None


class EvidenceMeta(msgspec.Struct):
    id: int
    party: str
    kind: str
    content_type: str
    display_name: str
    size_bytes: int
    sha256: str
    width: int | None
    height: int | None
    created_at: datetime


class DisputeOut(msgspec.Struct):
    id: int
    order_id: int
    state: DisputeState
    reason: str
    wanted: str
    wanted_amount_minor: int | None
    statement: str
    currency: str
    principal_minor: int
    shipping_minor: int
    offer: Offer | None
    outcome: str | None
    resolution: str | None
    refund_minor: int | None
    mandated_refund: bool
    next_actor: str | None
    deadlines: DisputeDeadlines
    opened_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    messages: list[DisputeMessage] | None = None
    evidence: list[EvidenceMeta] | None = None


class DisputeList(msgspec.Struct):
    data: list[DisputeOut]
    has_more: bool
    next_cursor: str | None


class DisputeResponseIn(msgspec.Struct, forbid_unknown_fields=True):
    type: Literal["full_refund", "partial_refund", "replacement", "contest"]
    message: str = ""
    amount_minor: int | None = None
    keep_item: bool = True
    return_address: str | None = None


@dataclass
class EvidenceForm:
    files: list[UploadFile]
    note: str | None = None


class EvidenceFiled(msgspec.Struct):
    data: list[EvidenceMeta]


def _actor(partner: dict[str, Any]) -> Actor:
    return Actor(Role.SELLER, int(partner["seller_id"]), "api")


def _as_api_field(exc: ValidationFailed) -> ValidationFailed:
    if exc.field in FIELD_NAMES:
        exc.field = FIELD_NAMES[exc.field]
    return exc


async def _own(dispute_id: int, seller_id: int) -> Dispute:
    return await services.get_seller_dispute(dispute_id, seller_id)  # type: ignore[no-any-return]


def _evidence(row: dict[str, Any]) -> EvidenceMeta:
    return EvidenceMeta(id=row["id"], party=row["party"], kind=row["kind"],
                        content_type=row["content_type"], display_name=row["display_name"],
                        size_bytes=int(row["size_bytes"]), sha256=row["sha256"],
                        width=row["width"], height=row["height"],
                        created_at=aware(row["created_at"]))  # type: ignore[arg-type]


async def dispute_out(d: Dispute, *, detail: bool = False) -> DisputeOut:
    out = DisputeOut(
        id=d.id, order_id=d.order, state=DisputeState(d.state), reason=d.reason, wanted=d.wanted,
        wanted_amount_minor=d.wanted_amount_minor, statement=d.statement, currency=d.currency,
        principal_minor=int(d.principal_minor), shipping_minor=int(d.shipping_minor),
        offer=Offer(kind=d.offer_kind, amount_minor=d.offer_amount_minor,
                    keep_item=bool(d.offer_keep_item), note=d.offer_note or "")
        if d.offer_kind and d.state == DisputeState.AWAITING_BUYER.value else None,
        outcome=d.outcome, resolution=d.resolution, refund_minor=d.refund_minor,
        mandated_refund=bool(d.mandated_refund), next_actor=disputes.whose_turn(d),
        deadlines=DisputeDeadlines(
            respond_by=aware(d.respond_by), offer_answer_by=aware(d.offer_answer_by),
            return_ship_by=aware(d.return_ship_by), return_receive_by=aware(d.return_receive_by),
            info_due_by=aware(d.info_due_by), decide_by=aware(d.decide_by)),
        opened_at=aware(d.opened_at), updated_at=aware(d.updated_at),  # type: ignore[arg-type]
        resolved_at=aware(d.resolved_at),
    )
    if detail:
        out.messages = [DisputeMessage(id=e["id"], created_at=e["created_at"],
                                       author=e["actor_role"], kind=e["kind"], body=e["body"] or "",
                                       amount_minor=e["amount_minor"])
                        for e in await disputes.list_events(d.id)]
        out.evidence = [_evidence(r) for r in await disputes.list_evidence(d.id)]
    return out


@get("/disputes", responses=READ_ERRORS, tags=["Disputes"],
     summary="Complaints about your orders, newest first")
async def list_disputes(request: Request,
                        dispute_state: Annotated[str | None, QueryParameter(
                            name="state", enum=[s.value for s in DisputeState], max_length=24,
                            description="Only disputes in this state.")] = None,
                        limit: Limit = 20, cursor: Cursor = None) -> DisputeList:
    partner = partner_of(request)
    rows, next_cursor = await services.list_seller_disputes(
        int(partner["seller_id"]), state=dispute_state, limit=limit, cursor=cursor)
    return DisputeList(data=[await dispute_out(d) for d in rows],
                       has_more=next_cursor is not None, next_cursor=next_cursor)


@get("/disputes/{dispute_id:int}", responses=READ_ERRORS, tags=["Disputes"],
     summary="One dispute, with its messages and evidence metadata")
async def get_dispute(request: Request, dispute_id: DisputeId) -> DisputeOut:
    partner = partner_of(request)
    return await dispute_out(await _own(dispute_id, int(partner["seller_id"])), detail=True)


@post("/disputes/{dispute_id:int}/responses", status_code=200, responses=WRITE_ERRORS,
      tags=["Disputes"], summary="Answer a complaint",
      description="`full_refund` settles it (money back to the buyer); `partial_refund` (with "
                  "`amount_minor`) or `replacement` is an offer the buyer accepts or rejects; "
                  "`contest` (with a `message` of at least 10 characters) sends it to a "
                  "mediator. Only while the dispute is `awaiting_seller` (409 otherwise).")
async def respond(request: Request, dispute_id: DisputeId,
                  data: Annotated[DisputeResponseIn, Body(media_type=RequestEncodingType.JSON)],
                  idempotency_key: IdempotencyKey = None) -> DisputeOut:
    partner = partner_of(request)
    _clean(data.message, "message")
    _clean(data.return_address, "return_address")
    await _own(dispute_id, int(partner["seller_id"]))
    try:
        dispute = await disputes.respond(
            dispute_id, action=RESPONSE_ACTIONS[data.type], actor=_actor(partner),
            amount_minor=data.amount_minor, keep_item=data.keep_item, statement=data.message,
            return_address=data.return_address or "")
    except ValidationFailed as exc:
        raise _as_api_field(exc) from None
    return await dispute_out(dispute, detail=True)


@post("/disputes/{dispute_id:int}/evidence", status_code=201, responses=WRITE_ERRORS, tags=["Disputes"],
      summary="File evidence (multipart: one or more `files`)",
      description="JPEG, PNG, WebP or PDF, decided by the file's bytes; 10 MB per file and 10 "
                  "files per party per dispute by default. Images are re-encoded without "
                  "metadata. Filed evidence cannot be changed or removed.")
async def file_evidence(request: Request, dispute_id: DisputeId,
                        data: Annotated[EvidenceForm, Body(media_type=RequestEncodingType.MULTI_PART)],
                        idempotency_key: IdempotencyKey = None) -> EvidenceFiled:
    partner = partner_of(request)
    await _own(dispute_id, int(partner["seller_id"]))
    uploads = []
    for f in data.files or []:
        if not isinstance(f, UploadFile):
            raise ValidationFailed("Send the files as multipart parts named `files`.", field="files")
        uploads.append(BytesUpload(f.filename, await f.read(), f.content_type))
    note = _clean(data.note, "note") or ""
    try:
        rows = await disputes.add_evidence(dispute_id, uploads=uploads, actor=_actor(partner),
                                           note=note)
    except ValidationFailed as exc:
        raise _as_api_field(exc) from None
    metas = {r["id"]: r for r in await disputes.list_evidence(dispute_id)}
    return EvidenceFiled(data=[_evidence(metas[r.id]) for r in rows if r.id in metas])


HANDLERS: list[Any] = [list_disputes, get_dispute, respond, file_evidence]
