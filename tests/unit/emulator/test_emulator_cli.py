"""`kyc emulator` subcommands: dataset listing, faults switched on a running emulator, one-line errors."""

from __future__ import annotations

import argparse

import pytest
from emulator_http import SIRENE_KEY, get
from kyc_core.errors import UserError
from kyc_dev.cli import emulator as cli
from kyc_dev.emulator.dataset import Dataset


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="kyc")
    sub = parser.add_subparsers(dest="command")
    cli.register(sub)
    args = parser.parse_args(list(argv))
    return args.func(args)


def test_dataset_prints_ids_and_known_positives_only(capsys):
    assert _run("emulator", "dataset", "--companies", "200", "--seed", "3", "--sample", "4") == 0
    out = capsys.readouterr().out
    dataset = Dataset(200, seed=3)
    lines = out.splitlines()
    assert lines[1].split("\t")[:2] == ["0", dataset.siren(0)]
    assert lines[1].split("\t")[-1] == ">".join(dataset.ownership_chain(dataset.siren(0))[1:])
    positives = [line for line in lines if line.startswith("KP")]
    assert len(positives) == len(dataset.known_positives(1))
    homonyms = [line.split("\t") for line in lines if line.startswith("KH")]
    assert [(h[1], h[2]) for h in homonyms] == [(h.siren, h.person_id) for h in dataset.known_homonyms()]
    assert dataset.company_at(0).name not in out
    for positive in dataset.known_positives(1):
        assert dataset.person(positive.siren, positive.person_id).last_name not in out


def test_faults_set_show_clear_against_a_running_emulator(emulator, dataset, capsys):
    url = emulator.root
    assert _run("emulator", "faults", "set", "sirene", "--error-rate", "1", "--latency-ms", "0:5",
                "--url", url) == 0
    assert get(f"{emulator.urls['sirene']}/siren/{dataset.siren(1)}", SIRENE_KEY).status == 500
    capsys.readouterr()
    _run("emulator", "faults", "show", "--url", url)
    assert '"error_rate": 1.0' in capsys.readouterr().out
    assert _run("emulator", "faults", "clear", "sirene", "--url", url) == 0
    assert get(f"{emulator.urls['sirene']}/siren/{dataset.siren(1)}", SIRENE_KEY).status == 200
    _run("emulator", "faults", "set", "*", "--outage", "503", "--outage-seconds", "30", "--url", url)
    assert get(f"{emulator.urls['recherche']}/search", q="x").status == 503
    _run("emulator", "faults", "clear", "--url", url)
    assert emulator.state.faults.snapshot() == {}


def test_fault_payload_from_options():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    cli.register(sub)
    args = parser.parse_args(["emulator", "faults", "set", "bodacc", "--latency-normal", "120:30", "--burst-429", "3",
                              "--retry-after", "9", "--truncate-rate", "0.2", "--truncate-mode", "connection"])
    assert cli.fault_payload(args) == {
        "source": "bodacc", "latency": {"dist": "normal", "mean_ms": 120.0, "sd_ms": 30.0}, "burst_429": 3,
        "retry_after_s": 9, "truncate_rate": 0.2, "truncate_mode": "connection"}


@pytest.mark.parametrize("argv, message", [
    (["emulator", "faults", "set", "nowhere", "--error-rate", "0.1"], "unknown source"),
    (["emulator", "faults", "set", "sirene", "--latency-ms", "fast"], "--latency-ms expects"),
    (["emulator", "faults", "set", "sirene", "--latency-ms", "200:50"], "MIN <= MAX"),
    (["emulator", "faults", "set", "sirene", "--error-rate", "1.5"], "between 0 and 1"),
    (["emulator", "faults", "show", "--url", "http://127.0.0.1:9"], "no emulator answering"),
    (["emulator", "dataset", "--companies", "0"], "--companies"),
    (["emulator", "serve", "--quota", "sirene=lots"], "--quota expects"),
    (["emulator", "serve", "--rne-account", "nopassword"], "--rne-account expects"),
    (["emulator", "serve", "--sirene-api-key", " "], "must not be empty"),
])
def test_bad_input_is_a_one_line_user_error(argv, message):
    with pytest.raises(UserError) as caught:
        _run(*argv)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_quota_option_parsing():
    assert cli.parse_quota("sirene=30/60") == ("sirene", (30, 60.0))
    assert cli.parse_quota("rne=off") == ("rne", None)


def test_rne_account_option_parsing():
    entitled = cli.parse_rne_account("demo:demo")
    public = cli.parse_rne_account("viewer:secret:public")
    assert (entitled.username, entitled.password, entitled.beneficial_owners) == ("demo", "demo", True)
    assert (public.username, public.beneficial_owners) == ("viewer", False)
