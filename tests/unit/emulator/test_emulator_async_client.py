"""The emulator as an async test would use it: `run_emulator` on the test's loop, an aiohttp client session."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from kyc_dev.emulator.server import SIRENE_KEY_HEADER, run_emulator


def test_run_emulator_serves_on_an_ephemeral_port_and_stops():
    async def scenario() -> tuple[int, str]:
        async with run_emulator(companies=30, seed=3, quotas={}) as emu:
            siren = emu.state.dataset.siren(2)
            async with aiohttp.ClientSession() as session:
                async with session.get(f"{emu.urls['sirene']}/siren/{siren}",
                                       headers={SIRENE_KEY_HEADER: "emulator-sirene-key"}) as response:
                    body = await response.json()
            root = emu.root
        return body["uniteLegale"]["siren"] == siren, root

    matched, root = asyncio.run(scenario())
    assert matched

    async def after_stop() -> None:
        async with aiohttp.ClientSession() as session:
            await session.get(root + "/_admin/health", timeout=aiohttp.ClientTimeout(total=2))

    with pytest.raises(aiohttp.ClientConnectionError):
        asyncio.run(after_stop())


def test_aiohttp_client_sees_each_damaged_body_kind():
    async def scenario() -> dict[str, str]:
        seen: dict[str, str] = {}
        async with run_emulator(companies=30, seed=3, quotas={}) as emu:
            url = f"{emu.urls['sirene']}/siren/{emu.state.dataset.siren(2)}"
            headers = {SIRENE_KEY_HEADER: "emulator-sirene-key"}
            specs = {
                "connection": {"truncate_rate": 1.0, "truncate_mode": "connection"},
                "malformed": {"malformed_rate": 1.0},
                "html": {"html_rate": 1.0},
                "content_type": {"wrong_content_type_rate": 1.0},
            }
            async with aiohttp.ClientSession() as session:
                for name, spec in specs.items():
                    async with session.post(emu.urls["admin"] + "/faults", json={"source": "sirene", **spec}):
                        pass
                    try:
                        async with session.get(url, headers=headers) as response:
                            await response.json()
                        seen[name] = "ok"
                    except aiohttp.ClientPayloadError:
                        seen[name] = "payload"
                    except aiohttp.ContentTypeError:
                        seen[name] = "content_type"
                    except ValueError:
                        seen[name] = "json"
        return seen

    assert asyncio.run(scenario()) == {
        "connection": "payload", "malformed": "json", "html": "content_type", "content_type": "content_type"}
