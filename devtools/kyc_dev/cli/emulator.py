"""`kyc emulator`: serve every source locally, switch faults on a running emulator, inspect the dataset."""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.parse
import urllib.request

from kyc_core.errors import UserError

DEFAULT_URL = "http://127.0.0.1:8090"
FAULT_SOURCES = ("sirene", "rne", "bodacc", "recherche", "ofac", "un", "eu")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `emulator` command group."""
    emulator = sub.add_parser("emulator", help="local emulator of Sirene, RNE, BODACC, recherche-entreprises and lists")
    actions = emulator.add_subparsers(dest="emulator_command", metavar="ACTION", parser_class=type(emulator))
    actions.required = True

    serve = actions.add_parser("serve", help="serve every source on one port (loopback by default)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8090, help="port (default: 8090; 0 = any free port)")
    serve.add_argument("--companies", type=int, default=1000, help="generated companies (default: 1000)")
    serve.add_argument("--seed", type=int, default=42, help="dataset seed (default: 42)")
    serve.add_argument("--list-version", type=int, choices=(1, 2), default=1, help="sanctions list version served")
    serve.add_argument("--quota", action="append", default=[], metavar="SOURCE=N/SECONDS",
                       help="per-source quota, e.g. sirene=30/60; SOURCE=off removes it (repeatable)")
    serve.add_argument("--token-ttl", type=float, default=3600.0, help="RNE token lifetime in seconds")
    serve.add_argument("--sirene-api-key", help="API key Sirene accepts (default: emulator-sirene-key)")
    serve.add_argument("--rne-account", action="append", default=[], metavar="USER:PASSWORD[:public]",
                       help="RNE login replacing the defaults; ':public' = may not see beneficial owners (repeatable)")
    serve.set_defaults(func=_serve)

    faults = actions.add_parser("faults", help="faults of a running emulator")
    fault_actions = faults.add_subparsers(dest="faults_command", metavar="ACTION", parser_class=type(emulator))
    fault_actions.required = True

    set_ = fault_actions.add_parser("set", help="replace the faults of one source ('*' = all)")
    set_.add_argument("source", help=f"one of {', '.join(FAULT_SOURCES)} or *")
    set_.add_argument("--latency-ms", metavar="MIN:MAX", help="uniform latency, e.g. 50:200")
    set_.add_argument("--latency-normal", metavar="MEAN:SD", help="normal latency in ms, e.g. 120:30")
    set_.add_argument("--error-rate", type=float, default=0.0, help="share of requests answered 5xx")
    set_.add_argument("--error-status", type=int, default=500, help="status of injected errors (default 500)")
    set_.add_argument("--burst-429", type=int, default=0, metavar="N", help="answer the next N requests 429")
    set_.add_argument("--retry-after", type=int, default=1, help="Retry-After seconds of injected 429s")
    set_.add_argument("--outage", choices=("503", "reset"), help="full outage: 503 page or connection reset")
    set_.add_argument("--outage-seconds", type=float, help="end the outage by itself after this long")
    set_.add_argument("--slow-ms", type=int, default=0, help="drip each body out over this many ms")
    set_.add_argument("--truncate-rate", type=float, default=0.0, help="share of bodies cut in half")
    set_.add_argument("--truncate-mode", choices=("body", "connection"), default="body",
                      help="body: short but complete response; connection: close before Content-Length")
    set_.add_argument("--malformed-rate", type=float, default=0.0, help="share of bodies with broken JSON")
    set_.add_argument("--html-rate", type=float, default=0.0, help="share of answers replaced by an HTML page")
    set_.add_argument("--wrong-content-type-rate", type=float, default=0.0, help="share sent as text/plain")
    set_.add_argument("--url", default=DEFAULT_URL, help=f"emulator root URL (default: {DEFAULT_URL})")
    set_.set_defaults(func=_faults_set)

    clear = fault_actions.add_parser("clear", help="remove the faults of one source, or of all")
    clear.add_argument("source", nargs="?", help="source to clear (default: all)")
    clear.add_argument("--url", default=DEFAULT_URL, help=f"emulator root URL (default: {DEFAULT_URL})")
    clear.set_defaults(func=_faults_clear)

    show = fault_actions.add_parser("show", help="print the current faults as JSON")
    show.add_argument("--url", default=DEFAULT_URL, help=f"emulator root URL (default: {DEFAULT_URL})")
    show.set_defaults(func=_faults_show)

    stats = actions.add_parser("stats", help="requests received per source and status")
    stats.add_argument("--url", default=DEFAULT_URL, help=f"emulator root URL (default: {DEFAULT_URL})")
    stats.set_defaults(func=_stats)

    dataset = actions.add_parser("dataset", help="print generated companies and known positives (ids only)")
    dataset.add_argument("--companies", type=int, default=1000, help="generated companies (default: 1000)")
    dataset.add_argument("--seed", type=int, default=42, help="dataset seed (default: 42)")
    dataset.add_argument("--sample", type=int, default=5, help="companies to print (default: 5)")
    dataset.add_argument("--list-version", type=int, choices=(1, 2), default=1, help="list version of positives")
    dataset.set_defaults(func=_dataset)


def parse_range(text: str, option: str) -> tuple[float, float]:
    """'A:B' -> (A, B) as floats, or a one-line UserError."""
    parts = text.split(":")
    try:
        low, high = (float(p) for p in parts)
    except ValueError:
        raise UserError(f"{option} expects two numbers as A:B, got {text!r}") from None
    if low < 0 or high < 0:
        raise UserError(f"{option} values must not be negative")
    return low, high


def parse_quota(text: str) -> tuple[str, tuple[int, float] | None]:
    """'sirene=30/60' -> ('sirene', (30, 60.0)); 'sirene=off' -> ('sirene', None)."""
    source, _, value = text.partition("=")
    if source not in FAULT_SOURCES or not value:
        raise UserError(f"--quota expects SOURCE=N/SECONDS with SOURCE in {', '.join(FAULT_SOURCES)}, got {text!r}")
    if value == "off":
        return source, None
    count, _, seconds = value.partition("/")
    try:
        return source, (int(count), float(seconds or 60))
    except ValueError:
        raise UserError(f"--quota expects SOURCE=N/SECONDS, got {text!r}") from None


def parse_rne_account(text: str):
    """'user:password' or 'user:password:public' -> RneAccount."""
    from kyc_dev.emulator.server import RneAccount

    parts = text.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1] or (len(parts) == 3 and parts[2] != "public"):
        raise UserError(f"--rne-account expects USER:PASSWORD or USER:PASSWORD:public, got {parts[0]!r}...")
    return RneAccount(parts[0], parts[1], beneficial_owners=len(parts) == 2)


def fault_payload(args: argparse.Namespace) -> dict:
    """The JSON body of POST /_admin/faults from `faults set` options."""
    if args.source != "*" and args.source not in FAULT_SOURCES:
        raise UserError(f"unknown source {args.source!r}; expected one of {', '.join(FAULT_SOURCES)} or *")
    for name in ("error_rate", "truncate_rate", "malformed_rate", "html_rate", "wrong_content_type_rate"):
        if not 0 <= getattr(args, name) <= 1:
            raise UserError(f"--{name.replace('_', '-')} must be between 0 and 1")
    payload: dict = {"source": args.source}
    if args.latency_ms and args.latency_normal:
        raise UserError("give --latency-ms or --latency-normal, not both")
    if args.latency_ms:
        low, high = parse_range(args.latency_ms, "--latency-ms")
        if high < low:
            raise UserError("--latency-ms needs MIN <= MAX")
        payload["latency"] = {"dist": "uniform", "min_ms": low, "max_ms": high}
    if args.latency_normal:
        mean, sd = parse_range(args.latency_normal, "--latency-normal")
        payload["latency"] = {"dist": "normal", "mean_ms": mean, "sd_ms": sd}
    for name in ("error_rate", "burst_429", "slow_ms", "truncate_rate", "malformed_rate", "html_rate",
                 "wrong_content_type_rate"):
        if getattr(args, name):
            payload[name] = getattr(args, name)
    if args.error_status != 500:
        payload["error_status"] = args.error_status
    if args.retry_after != 1:
        payload["retry_after_s"] = args.retry_after
    if args.truncate_mode != "body":
        payload["truncate_mode"] = args.truncate_mode
    if args.outage:
        payload["outage"] = args.outage
    if args.outage_seconds:
        payload["outage_seconds"] = args.outage_seconds
    return payload


def admin_call(url: str, method: str, path: str, payload: dict | None = None) -> dict:
    """Call the admin API of a running emulator; connection trouble becomes a one-line UserError."""
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(url.rstrip("/") + "/_admin" + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise UserError(f"emulator refused the request ({exc.code}): {exc.read().decode(errors='replace')[:300]}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise UserError(f"no emulator answering at {url} ({getattr(exc, 'reason', exc)})") from None


def _print_json(value) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def _faults_set(args: argparse.Namespace) -> int:
    _print_json(admin_call(args.url, "POST", "/faults", fault_payload(args)))
    return 0


def _faults_clear(args: argparse.Namespace) -> int:
    if args.source and args.source not in FAULT_SOURCES:
        raise UserError(f"unknown source {args.source!r}; expected one of {', '.join(FAULT_SOURCES)}")
    query = "?" + urllib.parse.urlencode({"source": args.source}) if args.source else ""
    _print_json(admin_call(args.url, "DELETE", "/faults" + query))
    return 0


def _faults_show(args: argparse.Namespace) -> int:
    _print_json(admin_call(args.url, "GET", "/faults"))
    return 0


def _stats(args: argparse.Namespace) -> int:
    _print_json(admin_call(args.url, "GET", "/stats"))
    return 0


def _check_companies(count: int) -> None:
    if not 1 <= count <= 90_000_000:
        raise UserError("--companies must be between 1 and 90000000")


def _serve(args: argparse.Namespace) -> int:
    from kyc_dev.emulator.server import EmulatorConfig, credentials, serve_forever

    _check_companies(args.companies)
    if not 0 <= args.port <= 65535:
        raise UserError("--port must be between 0 and 65535")
    config = EmulatorConfig(companies=args.companies, seed=args.seed, list_version=args.list_version,
                            rne_token_ttl_s=args.token_ttl)
    for text in args.quota:
        source, quota = parse_quota(text)
        config.quotas[source] = quota
    if args.sirene_api_key is not None:
        if not args.sirene_api_key.strip():
            raise UserError("--sirene-api-key must not be empty")
        config.sirene_api_key = args.sirene_api_key
    if args.rne_account:
        config.rne_accounts = tuple(parse_rne_account(text) for text in args.rne_account)

    def announce(running) -> None:
        lines = [f"kyc emulator: {args.companies} companies, seed {args.seed}, serving on {running.root}"]
        lines += [f"  {name:<10} {url}" for name, url in running.urls.items()]
        lines.append("credentials: " + json.dumps(credentials(config), ensure_ascii=False))
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()

    try:
        serve_forever(args.host, args.port, config, on_start=announce)
    except OSError as exc:
        raise UserError(f"cannot listen on {args.host}:{args.port} ({exc.strerror or exc})") from None
    return 0


def _dataset(args: argparse.Namespace) -> int:
    from kyc_dev.emulator.dataset import Dataset

    _check_companies(args.companies)
    if args.sample < 0:
        raise UserError("--sample must not be negative")
    dataset = Dataset(args.companies, args.seed)
    out = ["index\tsiren\thead_office_siret\tstatus\tbo_status\tproceeding\towner_chain"]
    for index in range(min(args.sample, dataset.size)):
        company = dataset.company_at(index)
        chain = ">".join(dataset.ownership_chain(company.siren)[1:]) or "-"
        out.append("\t".join((
            str(index), company.siren, company.head_office.siret, "A" if company.active else "C",
            company.bo_status, company.proceeding.kind if company.proceeding else "-", chain,
        )))
    out.append("")
    out.append("known_positive\tsiren\tperson_id\trole\tlists\tvariant\tlist_version")
    for positive in dataset.known_positives(args.list_version):
        out.append("\t".join((positive.positive_id, positive.siren, positive.person_id, positive.role,
                              ",".join(positive.lists), positive.variant, str(positive.version))))
    out.append("")
    out.append("known_homonym\tsiren\tperson_id\tnamesake_of")
    for homonym in dataset.known_homonyms():
        out.append("\t".join((homonym.homonym_id, homonym.siren, homonym.person_id, homonym.positive_id)))
    sys.stdout.write("\n".join(out) + "\n")
    return 0
