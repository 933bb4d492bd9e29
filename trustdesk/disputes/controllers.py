"""Dispute pages: file a complaint, the dispute page and its answers, evidence files, the
signed case file and the public signing key. Thin: parse, one service call, respond."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Response, Template

from trustdesk.core.actors import Actor, Role
from trustdesk.core.errors import DomainError, NotFound, ValidationFailed
from trustdesk.core.extensions import (
    ORDER_LIST_TODOS,
    ORDER_PAGE,
    ORDER_PAGE_PARTIALS,
    register_partial,
)
from trustdesk.core.web import current_user, flash, page
from trustdesk.disputes import casefile, policy, services
from trustdesk.disputes import evidence as ev
from trustdesk.disputes.forms import (
    ComplaintForm,
    MessageForm,
    RespondForm,
    ReturnShippedForm,
    amount_minor,
    from_fields,
)
from trustdesk.disputes.guards import csrf_error, header_token_ok, requires_login, token_checker
from trustdesk.disputes.states import (
    LABELS,
    OUTCOME_LABELS,
    REASON_LABELS,
    WANTED_LABELS,
    DisputeState,
    Outcome,
    Reason,
    available_actions,
)
from trustdesk.escrow.services import CARRIERS, can_open_dispute, get_order_for, list_ledger
from trustdesk.settings import get_settings

UPLOAD_OPT = {"exclude_from_csrf": True}
URLENCODED_MAX = 512 * 1024


def _actor(request: Request) -> Actor:
    user = current_user(request)
    return Actor(role=Role(user["role"]), user_id=user["id"], via="web")


async def _read_form(request: Request) -> ev.ParsedForm:
    """Multipart is streamed with limits; the form token is checked before any file is read."""
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        check = None if header_token_ok(request) else token_checker(request)
        try:
            return await ev.parse_multipart(request.stream(), ctype, check_token=check)
        except PermissionError:
            raise csrf_error() from None
    if int(request.headers.get("content-length") or 0) > URLENCODED_MAX:
        raise ValidationFailed("The form is too large.", field="_")
    body = (await request.body())[:URLENCODED_MAX].decode("utf-8", "replace")
    fields = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
    if not (header_token_ok(request) or token_checker(request)(fields.pop("_csrf_token", ""))):
        raise csrf_error()
    return ev.ParsedForm(fields=fields)


def _errors(exc: DomainError) -> dict[str, str]:
    return {(exc.field or "_"): exc.message}


def _choices() -> dict[str, Any]:
    return {"reasons": [(r.value, REASON_LABELS[r]) for r in Reason],
            "wanteds": [(w.value, label) for w, label in WANTED_LABELS.items()],
            "limits": ev.Limits.from_settings(), "rule": policy.MANDATED_REFUND_RULE,
            "quality_reasons": sorted(policy.QUALITY_REASONS),
            "response_window": get_settings().response_window,
            "offer_window": get_settings().offer_window}


async def _people(*ids: int | None) -> dict[int, dict[str, Any]]:
    from trustdesk.accounts.tables import User

    wanted = [i for i in ids if i]
    if not wanted:
        return {}
    rows = await User.select(User.id, User.display_name, User.store_name, User.email, User.role).where(
        User.id.is_in(wanted))
    return {r["id"]: r for r in rows}


class DisputeController(Controller):
    path = "/"
    guards = [requires_login]

    # -- filing ------------------------------------------------------------------------------

    @get("/orders/{order_id:int}/dispute/new")
    async def new(self, request: Request, order_id: FromPath[int]) -> Template:
        user = current_user(request)
        order = await get_order_for(order_id, user)
        return await self._new_page(request, order, form=ComplaintForm(), errors={})

    async def _new_page(self, request: Request, order: Any, *, form: Any, errors: dict[str, str],
                        status: int = 200) -> Template:
        user = current_user(request)
        ok, why = can_open_dispute(order)
        if ok and user["id"] != order.buyer:
            ok, why = False, "Only the buyer of this order can file a complaint."
        if not ok and status == 200:
            status = 403 if user["id"] != order.buyer else 409
        return page("disputes/new.html", status=status, order=order, form=form, errors=errors,
                    can_file=ok, why=why, **_choices())

    @post("/orders/{order_id:int}/dispute", opt=UPLOAD_OPT)
    async def create(self, request: Request, order_id: FromPath[int]) -> Response:
        user = current_user(request)
        order = await get_order_for(order_id, user)
        form = ComplaintForm()
        parsed = ev.ParsedForm()
        try:
            parsed = await _read_form(request)
            form = from_fields(ComplaintForm, parsed.fields)
            wanted_amount = amount_minor(form.wanted_amount, order.currency, "wanted_amount",
                                         required=form.wanted == "partial_refund")
            dispute = await services.open_dispute(
                order_id, reason=form.reason, wanted=form.wanted, statement=form.statement,
                wanted_amount_minor=wanted_amount, uploads=parsed.uploads, actor=_actor(request))
        except NotFound:
            raise
        except DomainError as exc:
            return await self._new_page(request, order, form=form, errors=_errors(exc),
                                        status=exc.status_code)
        finally:
            parsed.close()
        flash(request, "Your complaint is filed. The payment stays frozen in escrow while the "
                       "seller answers.")
        return Redirect(f"/disputes/{dispute.id}", status_code=303)

    # -- the dispute page ----------------------------------------------------------------------

    @get("/disputes")
    async def index(self, request: Request) -> Template:
        user = current_user(request)
        disputes = await services.list_for_user(user)
        rows = [{"d": d, **services.describe(d)} for d in disputes]
        return page("disputes/list.html", rows=rows)

    @get("/disputes/{dispute_id:int}")
    async def show(self, request: Request, dispute_id: FromPath[int]) -> Template:
        return await self._show_page(request, dispute_id)

    async def _show_page(self, request: Request, dispute_id: int, *, status: int = 200,
                         errors: dict[str, str] | None = None) -> Template:
        user = current_user(request)
        dispute = await services.get_dispute_for(dispute_id, user)
        role = services.viewer_role(dispute, user)
        from trustdesk.escrow.services import get_order

        order = await get_order(dispute.order)
        people = await _people(dispute.buyer, dispute.seller, dispute.assigned_mediator,
                               dispute.ruled_by)
        events = await services.list_events(dispute.id)
        evidence = await services.list_evidence(dispute.id)
        ledger_rows = await list_ledger(order.id)
        actions = [a.value for a in available_actions(dispute.state, role)]
        return page("disputes/show.html", status=status, dispute=dispute, order=order,
                    role=role.value, people=people, events=events, evidence=evidence,
                    ledger=ledger_rows, actions=actions, info=services.describe(dispute),
                    carriers=CARRIERS, errors=errors or {},
                    outcome_labels={o.value: label for o, label in OUTCOME_LABELS.items()},
                    is_quality=policy.is_quality(dispute.reason),
                    open=dispute.state not in (DisputeState.RESOLVED.value, DisputeState.WITHDRAWN.value),
                    **_choices())

    # -- answers ---------------------------------------------------------------------------------

    @post("/disputes/{dispute_id:int}/respond", opt=UPLOAD_OPT)
    async def respond(self, request: Request, dispute_id: FromPath[int]) -> Response:
        dispute = await services.get_dispute_for(dispute_id, current_user(request))
        try:
            parsed = await _read_form(request)
        except ev.EvidenceRejected as exc:
            return await self._show_page(request, dispute_id, status=exc.status_code,
                                         errors={"respond": exc.message})
        try:
            form = from_fields(RespondForm, parsed.fields)
            amount = None
            if form.action == "offer_partial":
                amount = amount_minor(form.amount, dispute.currency, "amount")
            await services.respond(dispute_id, action=form.action, amount_minor=amount,
                                   keep_item=form.keep_item, statement=form.statement,
                                   return_address=form.return_address,
                                   uploads=parsed.uploads or None, actor=_actor(request))
        except (ev.EvidenceRejected, ValidationFailed) as exc:
            return await self._show_page(request, dispute_id, status=exc.status_code,
                                         errors={"respond": exc.message})
        finally:
            parsed.close()
        flash(request, {"accept_full_refund": "You accepted a full refund; the buyer has been refunded.",
                        "offer_partial": "Your offer is sent. The buyer has until the deadline "
                                         "shown to answer.",
                        "offer_replacement": "Your replacement offer is sent to the buyer.",
                        "contest": "Your answer is filed. A mediator will decide."}[form.action])
        return Redirect(f"/disputes/{dispute_id}", status_code=303)

    @post("/disputes/{dispute_id:int}/accept")
    async def accept(self, request: Request, dispute_id: FromPath[int]) -> Response:
        await services.accept_offer(dispute_id, actor=_actor(request))
        flash(request, "You accepted the offer.")
        return Redirect(f"/disputes/{dispute_id}", status_code=303)

    @post("/disputes/{dispute_id:int}/reject")
    async def reject(self, request: Request, dispute_id: FromPath[int]) -> Response:
        form = await request.form()
        await services.reject_offer(dispute_id, statement=str(form.get("statement", "")),
                                    actor=_actor(request))
        flash(request, "You rejected the offer. A mediator will decide.")
        return Redirect(f"/disputes/{dispute_id}", status_code=303)

    @post("/disputes/{dispute_id:int}/withdraw")
    async def withdraw(self, request: Request, dispute_id: FromPath[int]) -> Response:
        form = await request.form()
        await services.withdraw(dispute_id, statement=str(form.get("statement", "")),
                                actor=_actor(request))
        flash(request, "You withdrew the complaint. The order continues where it was.")
        return Redirect(f"/disputes/{dispute_id}", status_code=303)

    @post("/disputes/{dispute_id:int}/mediator")
    async def ask_mediator(self, request: Request, dispute_id: FromPath[int]) -> Response:
        await services.request_mediator(dispute_id, actor=_actor(request))
        flash(request, "A mediator will look at this dispute.")
        return Redirect(f"/disputes/{dispute_id}", status_code=303)

    @post("/disputes/{dispute_id:int}/messages")
    async def message(self, request: Request, dispute_id: FromPath[int]) -> Response:
        form = from_fields(MessageForm, dict(await request.form()))
        await services.post_message(dispute_id, body=form.body, actor=_actor(request))
        flash(request, "Message sent.")
        return Redirect(f"/disputes/{dispute_id}#messages", status_code=303)

    @post("/disputes/{dispute_id:int}/evidence", opt=UPLOAD_OPT)
    async def add_evidence(self, request: Request, dispute_id: FromPath[int]) -> Response:
        await services.get_dispute_for(dispute_id, current_user(request))
        parsed = ev.ParsedForm()
        try:
            parsed = await _read_form(request)
            rows = await services.add_evidence(dispute_id, uploads=parsed.uploads,
                                               note=parsed.fields.get("note", ""),
                                               actor=_actor(request))
        except ev.EvidenceRejected as exc:
            return await self._show_page(request, dispute_id, status=exc.status_code,
                                         errors={"evidence": exc.message})
        finally:
            parsed.close()
        flash(request, f"{len(rows)} file{'s' if len(rows) != 1 else ''} filed as evidence.")
        return Redirect(f"/disputes/{dispute_id}#evidence", status_code=303)

    @post("/disputes/{dispute_id:int}/return-shipped")
    async def return_shipped(self, request: Request, dispute_id: FromPath[int]) -> Response:
        form = from_fields(ReturnShippedForm, dict(await request.form()))
        await services.mark_return_shipped(dispute_id, carrier=form.carrier, tracking=form.tracking,
                                           actor=_actor(request))
        flash(request, "Return shipment recorded. The seller must confirm it arrived.")
        return Redirect(f"/disputes/{dispute_id}", status_code=303)

    @post("/disputes/{dispute_id:int}/return-received")
    async def return_received(self, request: Request, dispute_id: FromPath[int]) -> Response:
        await services.confirm_return_received(dispute_id, actor=_actor(request))
        flash(request, "Return confirmed; the refund has been paid.")
        return Redirect(f"/disputes/{dispute_id}", status_code=303)

    # -- files -------------------------------------------------------------------------------

    @get("/disputes/{dispute_id:int}/evidence/{evidence_id:int}")
    async def evidence_file(self, request: Request, dispute_id: int, evidence_id: FromPath[int]) -> Response:
        row = await services.get_evidence_for(dispute_id, evidence_id, current_user(request))
        try:
            data = ev.read_blob(row["sha256"])
        except FileNotFoundError:
            raise NotFound("Evidence file missing.") from None
        ext = ev.KINDS.get(row["content_type"], ("", "bin"))[1]
        disposition = "attachment" if row["kind"] == "pdf" else "inline"
        return Response(content=data, media_type=row["content_type"], headers={
            "Content-Disposition": f'{disposition}; filename="evidence-{row["id"]}.{ext}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, max-age=3600, immutable",
            "Content-Security-Policy": "default-src 'none'; img-src 'self'; sandbox",
            "ETag": f'"{row["sha256"]}"',
        })

    @get("/disputes/{dispute_id:int}/case-file.zip")
    async def case_file(self, request: Request, dispute_id: FromPath[int]) -> Response:
        await services.get_dispute_for(dispute_id, current_user(request))
        name, data = await casefile.build_case_file(dispute_id)
        return Response(content=data, media_type="application/zip", headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"})


@get("/.well-known/trustdesk-signing-key", sync_to_thread=True)
def signing_key() -> Response:
    pub = casefile.load_private_key().public_key()
    return Response(content=casefile.public_key_pem(pub), media_type="text/plain", headers={
        "X-TrustDesk-Key-Id": casefile.key_id(pub), "Cache-Control": "public, max-age=3600",
        "Access-Control-Allow-Origin": "*"})


# -- sections on other domains' pages ---------------------------------------------------------

async def order_panel(order: Any, user: dict[str, Any]) -> dict[str, Any]:
    """The order page's dispute section: file a complaint, or the dispute's status."""
    dispute = await services.latest_for_order(order.id)
    ok, why = can_open_dispute(order)
    is_buyer = user is not None and user.get("id") == order.buyer
    # A reason why not is only worth showing while the order is still open; on a finished or
    # unpaid order "you cannot complain" is noise.
    open_now = order.state in {"funded", "shipped", "delivered"}
    panel: dict[str, Any] = {"can_file": ok and is_buyer,
                             "why": why if is_buyer and open_now else "",
                             "is_buyer": is_buyer, "dispute": None}
    if dispute is not None:
        panel.update({"dispute": dispute, **services.describe(dispute)})
        if ok and is_buyer and dispute.state == DisputeState.WITHDRAWN.value:
            panel["can_file"] = True
    return {"dispute_panel": panel}


_TODO = {
    ("seller", "seller"): "Answer the buyer's complaint",
    ("buyer", "buyer"): "Answer the seller's offer",
    ("buyer", "return"): "Ship the item back with tracking",
    ("seller", "return"): "Confirm the returned item arrived",
    ("buyer", "info"): "The mediator asked you for information",
    ("seller", "info"): "The mediator asked you for information",
}


async def order_todos(order_ids: list[int], user: dict[str, Any]) -> dict[int, dict[str, str]]:
    """/orders: what the viewer must do next in each order's open dispute."""
    from trustdesk.disputes.tables import Dispute

    if not order_ids or not user:
        return {}
    rows = await Dispute.objects().where(
        Dispute.order.is_in(order_ids)
        & Dispute.state.is_in([s.value for s in (DisputeState.AWAITING_SELLER, DisputeState.AWAITING_BUYER,
                                                 DisputeState.ESCALATED, DisputeState.AWAITING_RETURN)]))
    out: dict[int, dict[str, str]] = {}
    for d in rows:
        mine = "buyer" if user["id"] == d.buyer else "seller" if user["id"] == d.seller else None
        turn = services.whose_turn(d)
        kind = "return" if d.state == DisputeState.AWAITING_RETURN.value else (
            "info" if d.info_from else turn)
        if mine and turn == mine:
            todo = _TODO.get((mine, kind or ""), "Your turn in the dispute")
        elif turn == "mediator":
            todo = "A mediator is deciding the dispute"
        else:
            todo = f"Waiting for the {turn}" if turn else ""
        out[d.order] = {"todo": todo, "link": f"/disputes/{d.id}",
                        "label": f"In dispute: {LABELS[DisputeState(d.state)].lower()}",
                        "yours": "1" if mine and turn == mine else ""}
    return out


if order_panel not in ORDER_PAGE:
    ORDER_PAGE.append(order_panel)
register_partial(ORDER_PAGE_PARTIALS, "disputes/_order_panel.html")
if order_todos not in ORDER_LIST_TODOS:
    ORDER_LIST_TODOS.append(order_todos)

_ = (Outcome,)
ROUTES = [DisputeController, signing_key]
