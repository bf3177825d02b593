"""The four clients against the local source emulator: same paths, auth, paging and quotas as the real services."""

from __future__ import annotations

import asyncio
from datetime import date

import aiohttp
import pytest
from kyc_core.errors import QuotaExceeded, RecordNotFound
from kyc_core.sources import BodaccClient, RechercheEntreprisesClient, RneClient, SireneClient
from kyc_core.sources.models import BeneficialOwnersAvailability
from kyc_dev.emulator.server import EmulatorConfig, base_urls, credentials, run_emulator

UNLIMITED = {"sirene": None, "rne": None, "recherche": None}


async def _with_emulator(work, **config):
    """Run `work(urls, creds, sirens, session)` against a fresh emulator on a random port."""
    emulator_config = EmulatorConfig(companies=config.pop("companies", 60), **config)
    async with run_emulator(config=emulator_config) as emu, aiohttp.ClientSession() as session:
        sirens = list(emu.state.dataset.sirens(0, 10))
        return await work(base_urls(emu.root), credentials(emulator_config), sirens, session)


def _rne(session, urls, creds, entitled: bool) -> RneClient:
    account = next(a for a in creds["rne"] if a["beneficial_owners"] is entitled)
    return RneClient(
        session,
        urls["rne"],
        username=account["username"],
        password=account["password"],
        rbe_entitled=entitled,
    )


def test_one_company_is_consistent_across_sirene_rne_and_recherche():
    async def work(urls, creds, sirens, session):
        sirene = SireneClient(session, urls["sirene"], api_key=creds["sirene"]["api_key"], page_size=2)
        siren = sirens[0]
        unit = await sirene.legal_unit(siren)
        sites = await sirene.establishments(siren)
        record = await _rne(session, urls, creds, True).record(siren)
        hits = await RechercheEntreprisesClient(session, urls["recherche"]).search(siren, max_results=1)
        return siren, unit.model, sites, record.model, hits.model

    siren, unit, sites, record, hits = asyncio.run(_with_emulator(work, quotas=UNLIMITED))
    assert unit.siren == record.company.siren == hits[0].company.siren == siren
    assert unit.legal_name == record.company.legal_name
    assert sites.model and all(e.siret.startswith(siren) for e in sites.model)
    assert len(sites.pages) == -(-len(sites.model) // 2)
    assert record.officers


def test_beneficial_owners_depend_on_the_account():
    async def work(urls, creds, sirens, session):
        entitled, public = _rne(session, urls, creds, True), _rne(session, urls, creds, False)
        seen = [(await entitled.beneficial_owners(s)).model.availability for s in sirens]
        hidden = {(await public.beneficial_owners(s)).model.availability for s in sirens}
        batch = await entitled.records(sirens)
        return seen, hidden, batch, sirens

    seen, hidden, batch, sirens = asyncio.run(_with_emulator(work, quotas=UNLIMITED))
    assert [r.company.siren for r in batch.model] == sirens
    assert [r.beneficial_owners.availability for r in batch.model] == seen
    assert BeneficialOwnersAvailability.DECLARED in seen
    assert BeneficialOwnersAvailability.NOT_AVAILABLE not in seen
    assert hidden == {BeneficialOwnersAvailability.NOT_AVAILABLE}


def test_bodacc_notices_and_paging():
    async def work(urls, creds, sirens, session):
        client = BodaccClient(session, urls["bodacc"], page_size=7)
        since = await client.notices_since(date(2000, 1, 1), max_results=40)
        per_company = [await client.notices_for_siren(s) for s in sirens]
        return since, per_company, sirens

    since, per_company, sirens = asyncio.run(_with_emulator(work))
    assert len(since.model) == min(40, since.total)
    assert len(since.pages) == -(-len(since.model) // 7)
    dates = [n.publication_date for n in since.model]
    assert dates == sorted(dates)
    for siren, fetched in zip(sirens, per_company, strict=True):
        assert all(siren in n.sirens for n in fetched.model)


def test_unknown_siren_and_quota_are_classified():
    async def work(urls, creds, sirens, session):
        sirene = SireneClient(session, urls["sirene"], api_key=creds["sirene"]["api_key"])
        with pytest.raises(RecordNotFound):
            await sirene.legal_unit("552032534")
        with pytest.raises(QuotaExceeded) as info:
            for _ in range(5):
                await sirene.legal_unit(sirens[0])
        return info.value

    quota = asyncio.run(_with_emulator(work, quotas={"sirene": (3, 60.0), "rne": None, "recherche": None}))
    assert quota.http_status == 429 and quota.reset_at is not None
