"""The cases list's "source unavailable" filter: a mandatory register not consulted, whether the register failed
(`source_unavailable`) or our Redis or KYC database did (`infrastructure_unavailable`), told apart in each row."""

from __future__ import annotations

from seeding import seed_infrastructure_case


def test_the_filter_matches_decisions_not_consulted_because_of_our_infrastructure(workspace, auth, cases, store, emulator):
    infra = seed_infrastructure_case(store, emulator)
    assert infra["outcome"] == "review"
    assert {r["code"] for r in infra["top_reasons"]} >= {"infrastructure_unavailable"}
    assert "source_unavailable" not in {r["code"] for r in infra["top_reasons"]}
    headers = {"Authorization": f"Bearer {auth('analyst1', 'user')}"}

    def get(**params):
        response = workspace.get("/kyc/api/cases", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return response.json()

    assert get()["total"] == 5
    matched = {c["customer_ref"]: c for c in get(source_unavailable="yes")["cases"]}
    assert sorted(matched) == ["WS-ENT-INFRA", "WS-ENT-OUTAGE"]
    assert matched["WS-ENT-INFRA"]["source_unavailable"] is True
    assert matched["WS-ENT-INFRA"]["infrastructure_unavailable"] is True
    assert matched["WS-ENT-OUTAGE"]["infrastructure_unavailable"] is False
    others = get(source_unavailable="no")
    assert others["total"] == 3 and "WS-ENT-INFRA" not in {c["customer_ref"] for c in others["cases"]}
    # Combined with the other filters, in the database.
    assert get(source_unavailable="yes", segment="cgp")["total"] == 2
    assert get(source_unavailable="yes", segment="fintech")["total"] == 0

    html = workspace.get("/kyc/cases", params={"source_unavailable": "yes"}, headers=headers).text
    row = html.split(f'data-customer="{infra["customer_id"]}"', 1)[1].split("</tr>", 1)[0]
    assert "infrastructure unavailable</span>" in row and ">source unavailable</span>" not in row
    outage = html.split(f'data-customer="{cases["outage"]["customer_id"]}"', 1)[1].split("</tr>", 1)[0]
    assert ">source unavailable</span>" in outage and "infrastructure unavailable" not in outage
    assert "Source unavailable (register or infrastructure)" in html
