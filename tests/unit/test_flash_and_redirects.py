"""Flash cookies are signed; `next` targets never leave the site."""

import pytest

from trustdesk.core import flash
from trustdesk.core.web import safe_next


def test_flash_round_trips_and_rejects_tampering() -> None:
    value = flash.encode([{"level": "success", "message": "Paid"}])
    assert flash.decode(value) == [{"level": "success", "message": "Paid"}]
    raw, sig = value.rsplit(".", 1)
    assert flash.decode(raw + "." + "0" * len(sig)) == []
    assert flash.decode("garbage") == []


@pytest.mark.parametrize(
    ("target", "expected"),
    [("/orders/5", "/orders/5"), ("https://evil.example/", "/account"), ("//evil.example", "/account"),
     ("javascript:alert(1)", "/account"), ("", "/account"), ("/pay/abc?x=1", "/pay/abc?x=1"),
     ("/\\evil.example", "/account")],
)
def test_next_only_allows_same_site_paths(target: str, expected: str) -> None:
    assert safe_next(target) == expected
