"""Shared fixtures. Unit tests never touch these database fixtures."""

from __future__ import annotations

import pytest

from tests.support.env import setup_test_environment

DB_KIND = setup_test_environment()


def pytest_report_header(config: pytest.Config) -> str:
    import os

    return f"trustdesk test database: {DB_KIND} ({os.environ['TRUSTDESK_DATABASE_URL']})"
