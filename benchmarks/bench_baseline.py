"""The baseline: what a user would write with twilio-python, run as its own process.

    python benchmarks/bench_baseline.py inventory|reset|health|show \\
        --api-url http://127.0.0.1:PORT [--number E164] [--days 7]

Credentials come from TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN (the main
account's, which reach every subaccount's paths). Everything is sequential,
with twilio-python's default page size (50). The one addition a user pointing
at a test server needs is an HTTP client that swaps Twilio's host for the
server's, and that sleeps `Retry-After` and tries again on a 429, since
twilio-python retries nothing and would otherwise crash.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

TWILIO_HOST = "https://api.twilio.com"
MAX_TRIES = 20


class LocalHttpClient(TwilioHttpClient):  # type: ignore[misc]  # twilio is untyped
    """twilio-python's own client, sent to a local server, retrying 429 naively."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")

    def request(
        self,
        method: str,
        url: str,
        params: Any = None,
        data: Any = None,
        headers: Any = None,
        auth: Any = None,
        timeout: Any = None,
        allow_redirects: bool = False,
    ) -> Any:
        url = url.replace(TWILIO_HOST, self.base_url, 1)
        response: Any = None
        for _ in range(MAX_TRIES):
            response = super().request(
                method, url, params, data, headers, auth, timeout, allow_redirects
            )
            if response.status_code != 429:
                return response
            time.sleep(float((response.headers or {}).get("Retry-After", "1")))
        return response


def client(api_url: str) -> Any:
    return Client(
        os.environ["TWILIO_ACCOUNT_SID"],
        os.environ["TWILIO_AUTH_TOKEN"],
        http_client=LocalHttpClient(api_url),
    )


def inventory(api: Any) -> None:
    """Every account's numbers, written as CSV."""
    out = csv.writer(sys.stdout)
    out.writerow(["account", "sid", "phone_number", "friendly_name", "voice_url"])
    for account in api.v2010.accounts.list():
        for number in api.v2010.accounts(account.sid).incoming_phone_numbers.list():
            out.writerow(
                [
                    account.friendly_name,
                    number.sid,
                    number.phone_number,
                    number.friendly_name,
                    number.voice_url,
                ]
            )


def reset(api: Any) -> None:
    """Fetch, then clear the routing of, each `account_sid,number_sid` on stdin."""
    done = 0
    for line in sys.stdin:
        account_sid, _, sid = line.strip().partition(",")
        if not sid:
            continue
        number = api.v2010.accounts(account_sid).incoming_phone_numbers(sid)
        current = number.fetch()
        if current.voice_url or current.status_callback or current.trunk_sid:
            number.update(
                voice_url="",
                status_callback="",
                trunk_sid="",
                voice_application_sid="",
                sms_url="",
                friendly_name=current.phone_number,
            )
            done += 1
    print(json.dumps({"reset": done}))


def health(api: Any, days: int) -> None:
    """Answer and short-call rates per number: one Calls list per number."""
    since = datetime.now(UTC) - timedelta(days=days)
    rows = []
    for account in api.v2010.accounts.list():
        scoped = api.v2010.accounts(account.sid)
        for number in scoped.incoming_phone_numbers.list():
            calls = scoped.calls.list(from_=number.phone_number, start_time_after=since)
            answered = [c for c in calls if str(c.status) == "completed"]
            short = [c for c in answered if int(c.duration or 0) < 10]
            rows.append(
                {
                    "phone_number": number.phone_number,
                    "calls": len(calls),
                    "answer_rate": len(answered) / len(calls) if calls else None,
                    "short_rate": len(short) / len(answered) if answered else None,
                }
            )
    json.dump(rows, sys.stdout)


def show(api: Any, e164: str) -> None:
    """One number, looked up by PhoneNumber in each account until found."""
    for account in api.v2010.accounts.list():
        found = api.v2010.accounts(account.sid).incoming_phone_numbers.list(
            phone_number=e164
        )
        if found:
            number = found[0]
            print(
                json.dumps(
                    {
                        "sid": number.sid,
                        "phone_number": number.phone_number,
                        "account": account.friendly_name,
                        "voice_url": number.voice_url,
                        "status_callback": number.status_callback,
                    }
                )
            )
            return
    sys.exit(f"{e164} not found")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=["inventory", "reset", "health", "show"])
    parser.add_argument("--api-url", required=True)
    parser.add_argument("--number", default="")
    parser.add_argument("--days", type=int, default=7)
    args = parser.parse_args()
    api = client(args.api_url).api
    if args.scenario == "inventory":
        inventory(api)
    elif args.scenario == "reset":
        reset(api)
    elif args.scenario == "health":
        health(api, args.days)
    else:
        show(api, args.number)


if __name__ == "__main__":
    main()
