"""`GET /v1/capabilities` advertises the send rate limits (per inbox and per organization,
hourly and per UTC day, counted in recipients) in its `sending` block."""

from __future__ import annotations

import httpx

from settings import Settings
from tests.conftest import Tenant


async def test_capabilities_advertise_send_rate_limits(api: httpx.AsyncClient, tenant: Tenant, settings: Settings) -> None:
    r = await api.get("/v1/capabilities", headers=tenant.headers)
    assert r.status_code == 200, r.text
    limits = r.json()["sending"]["rate_limits"]
    assert limits["unit"] == "recipients"
    assert limits["inbox_hourly"] == settings.send_limit_hourly
    assert limits["inbox_daily"] == settings.send_limit_daily
    assert limits["org_hourly"] == settings.org_send_limit_hourly
    assert limits["org_daily"] == settings.org_send_limit_daily
    assert (limits["inbox_hourly"], limits["inbox_daily"], limits["org_hourly"], limits["org_daily"]) == (
        1000, 10000, 5000, 50000)  # the documented defaults the test settings keep
    assert "settings.send_limits" in limits["windows"] and "Retry-After" in limits["headers"]
