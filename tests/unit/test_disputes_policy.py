"""The mandated-refund rule as a table: reason x (upheld, lapsed) -> minimum; rulings refused
below the principal for upheld quality complaints."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trustdesk.disputes import policy
from trustdesk.disputes.policy import RuleViolation, lapse_refund, minimum_refund, ruling_refund

QUALITY = ["not_as_described", "substandard_quality", "damaged", "counterfeit", "wrong_item"]
ALL = QUALITY + ["not_received"]
M = policy.Order(principal_minor=100_000, shipping_minor=20_000, held_minor=120_000)


@pytest.mark.parametrize("reason", ALL)
@pytest.mark.parametrize(("upheld", "lapsed"), [(False, False), (True, False), (False, True), (True, True)])
def test_minimum_refund_table(reason: str, upheld: bool, lapsed: bool) -> None:
    expected = 100_000 if reason in QUALITY and (upheld or lapsed) else 0
    assert minimum_refund(reason, principal_minor=100_000, upheld=upheld, seller_lapsed=lapsed) == expected


@pytest.mark.parametrize("reason", QUALITY)
def test_partial_ruling_below_principal_is_refused_with_the_rule_quoted(reason: str) -> None:
    with pytest.raises(RuleViolation) as info:
        ruling_refund(reason, "partial_refund", M, amount_minor=99_999)
    assert policy.MANDATED_REFUND_RULE in info.value.message
    assert info.value.status_code == 422


def test_not_received_may_get_a_small_partial_refund() -> None:
    assert ruling_refund("not_received", "partial_refund", M, amount_minor=1_000) == 1_000


@pytest.mark.parametrize("reason", ALL)
def test_full_refund_is_principal_and_shipping_only_if_included(reason: str) -> None:
    assert ruling_refund(reason, "full_refund", M) == 100_000
    assert ruling_refund(reason, "full_refund", M, include_shipping=True) == 120_000
    assert ruling_refund(reason, "refund_after_return", M, include_shipping=True) == 120_000


@pytest.mark.parametrize("reason", ALL)
def test_release_refunds_nothing(reason: str) -> None:
    assert ruling_refund(reason, "release_to_seller", M) == 0


def test_refund_above_what_escrow_holds_is_refused() -> None:
    with pytest.raises(policy.ValidationFailed):
        ruling_refund("damaged", "partial_refund", M, amount_minor=120_001)


@pytest.mark.parametrize("reason", QUALITY)
def test_lapse_refund_never_below_principal(reason: str) -> None:
    assert lapse_refund(reason, "full_refund", None, M) == 120_000
    assert lapse_refund(reason, "partial_refund", 5_000, M) == 100_000
    assert lapse_refund(reason, "partial_refund", 110_000, M) == 110_000
    assert lapse_refund(reason, "replacement", None, M) == 120_000


@given(principal=st.integers(1, 10**9), shipping=st.integers(0, 10**7),
       amount=st.integers(1, 2 * 10**9), reason=st.sampled_from(ALL))
def test_any_accepted_partial_ruling_respects_the_rule(principal: int, shipping: int, amount: int,
                                                       reason: str) -> None:
    money = policy.Order(principal, shipping, principal + shipping)
    try:
        refund = ruling_refund(reason, "partial_refund", money, amount_minor=amount)
    except policy.ValidationFailed:
        assert amount > principal + shipping or (reason in QUALITY and amount < principal)
        return
    assert 0 < refund <= principal + shipping
    if reason in QUALITY:
        assert refund >= principal


def test_policy_module_is_pure() -> None:
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(policy))
    names = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    names |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not any(x.startswith(("piccolo", "litestar", "dramatiq")) for x in names)
