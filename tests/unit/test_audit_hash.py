"""The audit chain's hash function: any change to any field changes the hash."""

from hypothesis import given
from hypothesis import strategies as st

from trustdesk.core.audit import GENESIS, entry_hash

BASE = {"created_at": "2026-11-22T00:00:00+00:00", "actor_role": "buyer", "actor_id": 1,
        "via": "web", "action": "escrow:order:funded", "subject_type": "order",
        "subject_id": "7", "data": {"amount": 100}}


def test_hash_depends_on_previous_hash() -> None:
    assert entry_hash(GENESIS, BASE) != entry_hash("f" * 64, BASE)


@given(st.sampled_from(sorted(BASE)), st.text(min_size=1, max_size=20))
def test_any_field_change_changes_the_hash(field: str, value: str) -> None:
    changed = {**BASE, field: value}
    if changed[field] == BASE[field]:
        return
    assert entry_hash(GENESIS, changed) != entry_hash(GENESIS, BASE)


def test_key_order_does_not_matter() -> None:
    reordered = dict(reversed(list(BASE.items())))
    assert entry_hash(GENESIS, reordered) == entry_hash(GENESIS, BASE)
