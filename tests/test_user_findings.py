"""What a first user ran into, kept fixed: each test is one of their findings."""

from __future__ import annotations

import io
import json
from pathlib import Path

from conftest import Invoke
from meetzy_numbers.render import NUMBER_COLUMNS, Output
from meetzy_numbers.sandbox import SEED

MAIN = SEED.main_account_sid


def test_a_cache_record_of_the_wrong_type_is_rebuilt(
    sandbox: Invoke, isolated_home: Path
) -> None:
    assert sandbox("list").exit_code == 0
    cache_file = isolated_home / "sandbox" / "cache" / f"{MAIN}.json"
    data = json.loads(cache_file.read_text())
    data["numbers"][0]["capabilities"] = "x"
    data["numbers"][1] = {}
    cache_file.write_text(json.dumps(data))

    result = sandbox("list", "-o", "json")

    assert result.exit_code == 0, result.stderr
    assert "was unreadable and will be rebuilt" in result.stderr
    rows = json.loads(result.stdout)
    assert len([r for r in rows if r["type"] == "twilio"]) == 13


def test_a_narrow_terminal_never_cuts_a_number_or_sid() -> None:
    sid = "PN" + "f" * 32
    row = {
        "badge": "🟢 assigned",
        "phone_number": "+442079460115",
        "national_format": "020 7946 0115",
        "agent": "onboarding-uk",
        "account_name": "Meetzy UK",
        "notes": "routed by trunk TK" + "c" * 32,
        "sid": sid,
    }
    stream = io.StringIO()
    output = Output(color=True, stdout=stream)
    output.console = lambda **kw: Output.console(output, **{"width": 80, **kw})  # type: ignore[method-assign]

    output.records([row], NUMBER_COLUMNS)

    shown = stream.getvalue()
    assert sid in shown
    assert "+442079460115" in shown
    assert "020 7946 0115" in shown


def test_quiet_drops_the_footer(sandbox: Invoke) -> None:
    result = sandbox("-q", "list", "-s", "Meetzy UK")

    assert result.exit_code == 0
    assert "numbers in 1 account" not in result.stdout


def test_the_journal_id_printed_is_the_one_history_shows(sandbox: Invoke) -> None:
    result = sandbox("reset", "+14155550120", "--yes", "-o", "json")
    (row,) = json.loads(result.stdout)

    history = json.loads(sandbox("history", "-o", "json").stdout)

    assert row["journal_id"] in {entry["id"] for entry in history}


def test_sandbox_and_api_url_together_is_a_usage_error(cli: Invoke) -> None:
    result = cli("--sandbox", "--api-url", "http://127.0.0.1:9", "list")

    assert result.exit_code == 2
    assert "use --sandbox or --api-url, not both" in result.stderr


def test_an_account_sid_without_its_secret_says_so(cli: Invoke) -> None:
    result = cli("list", env={"TWILIO_ACCOUNT_SID": MAIN})

    assert result.exit_code == 4
    assert "TWILIO_ACCOUNT_SID is set, but neither TWILIO_AUTH_TOKEN" in result.stderr


def test_creds_list_when_twilio_is_unreachable_exits_7(cli: Invoke) -> None:
    token = next(t for sid, _, t, _ in SEED.accounts if sid == MAIN)
    env = {"TWILIO_ACCOUNT_SID": MAIN, "TWILIO_AUTH_TOKEN": token}

    result = cli(
        "--api-url", "http://127.0.0.1:9", "creds", "list", "-o", "json", env=env
    )

    assert result.exit_code == 7
    rows = json.loads(result.stdout)
    assert rows[0]["status"] == "unchecked"


def test_list_of_an_unknown_agent_exits_5(sandbox: Invoke) -> None:
    result = sandbox("list", "-A", "--agent", "nosuch")

    assert result.exit_code == 5
    assert (
        "no agent 'nosuch' in the config, and no number routes to it" in result.stderr
    )
    assert sandbox("list", "-A", "--agent", "legacy-ivr").exit_code == 0


def test_a_broken_sandbox_state_points_at_sandbox_reset(
    sandbox: Invoke, isolated_home: Path
) -> None:
    assert sandbox("list").exit_code == 0
    state = isolated_home / "sandbox" / "twilio.json"
    state.write_text(state.read_text()[:100])

    result = sandbox("list", "--refresh")

    assert result.exit_code == 1
    assert "sandbox's state file cannot be used" in result.stderr
    assert "meetzy-numbers sandbox reset" in result.stderr
    assert "unexpected" not in result.stderr


def test_without_a_webhook_base_state_selectors_refuse(sandbox: Invoke) -> None:
    assert sandbox("config", "unset", "webhook_base").exit_code == 0

    listed = sandbox("list")
    result = sandbox("reset", "--state", "partial", "--yes")

    assert listed.exit_code == 0
    assert "no webhook_base is configured" in listed.stderr
    assert result.exit_code == 2
    assert "--state cannot tell assigned numbers from partial ones" in result.stderr


def test_health_selector_without_cached_health_refuses(sandbox: Invoke) -> None:
    result = sandbox("reset", "--health", "warning", "--dry-run")

    assert result.exit_code == 2
    assert "no phone health is cached" in result.stderr
    assert "meetzy-numbers health -A" in result.stderr


def test_an_api_url_that_is_not_a_url_is_a_usage_error(cli: Invoke) -> None:
    result = cli("--api-url", "notaurl", "list")

    assert result.exit_code == 2
    assert "is not an http:// or https:// URL" in result.stderr


def test_swap_by_health_with_nothing_to_swap_still_writes_json(
    sandbox: Invoke,
) -> None:
    assert sandbox("health", "-A").exit_code == 0
    result = sandbox(
        "swap", "--health", "spam", "--agent", "billing-us", "--yes", "-o", "json"
    )

    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_a_sandbox_state_of_the_wrong_shape_points_at_sandbox_reset(
    sandbox: Invoke, isolated_home: Path
) -> None:
    assert sandbox("list").exit_code == 0
    state = isolated_home / "sandbox" / "twilio.json"
    data = json.loads(state.read_text())
    data["numbers"] = None
    state.write_text(json.dumps(data))

    result = sandbox("list", "--refresh")

    assert result.exit_code == 1
    assert "meetzy-numbers sandbox reset" in result.stderr
    assert "unexpected" not in result.stderr


def test_a_main_api_key_warns_that_subaccounts_are_hidden(sandbox: Invoke) -> None:
    key_sid, secret, _ = next(k for k in SEED.api_keys if k[2] == MAIN)
    stored = sandbox(
        "creds", "set", MAIN, "--api-key", key_sid, "--stdin", input=secret + "\n"
    )
    assert stored.exit_code == 0, stored.stderr

    result = sandbox("list", "-A", "--refresh")

    assert result.exit_code == 0
    assert "Twilio shows no subaccounts to API keys" in result.stderr


def test_a_cron_job_gives_a_subaccount_its_own_secret_in_the_environment(
    cli: Invoke,
) -> None:
    from meetzy_numbers.sandbox import Sandbox, serve

    spain, spain_token = next(
        (s, t) for s, n, t, _ in SEED.accounts if n == "Meetzy Spain"
    )
    main_token = next(t for s, _, t, _ in SEED.accounts if s == MAIN)
    server, thread = serve(Sandbox(None))
    url = f"http://127.0.0.1:{server.server_address[1]}"
    env = {"TWILIO_ACCOUNT_SID": MAIN, "TWILIO_AUTH_TOKEN": main_token}
    try:
        assert cli("config", "set", "webhook_base", SEED.webhook_base).exit_code == 0
        refused = cli("--api-url", url, "reset", "+34911230118", "--yes", env=env)
        env[f"TWILIO_AUTH_TOKEN_{spain}"] = spain_token
        done = cli("--api-url", url, "reset", "+34911230118", "--yes", env=env)
        listed = cli("--api-url", url, "creds", "list", "-o", "json", env=env)
    finally:
        server.shutdown()
        thread.join(timeout=5)

    assert refused.exit_code == 4
    assert (
        "TWILIO_AUTH_TOKEN_<its AC… SID>" in refused.stderr
        or "creds set" in refused.stderr
    )
    assert done.exit_code == 0, done.stderr
    assert spain_token not in done.output
    rows = {r["account_name"]: r for r in json.loads(listed.stdout)}
    assert rows["Meetzy Spain"]["source"] == "env"
