"""Which dispute deadlines exist, where they live, when they apply, and what runs at lapse. Pure."""

from __future__ import annotations

from typing import Final

# kind: (Dispute column, states where it binds, trustdesk.disputes.services function)
DEADLINES: Final[dict[str, tuple[str, frozenset[str], str]]] = {
    "dispute.respond_by": ("respond_by", frozenset({"awaiting_seller"}), "lapse_seller_response"),
    "dispute.offer_answer_by": ("offer_answer_by", frozenset({"awaiting_buyer"}),
                                "lapse_offer_answer"),
    "dispute.return_ship_by": ("return_ship_by", frozenset({"awaiting_return"}),
                               "lapse_return_shipment"),
    "dispute.return_receive_by": ("return_receive_by", frozenset({"awaiting_return"}),
                                  "lapse_return_receipt"),
    "dispute.info_due_by": ("info_due_by", frozenset({"escalated"}), "lapse_info_request"),
    "dispute.decide_by": ("decide_by", frozenset({"escalated"}), "lapse_mediation"),
}
