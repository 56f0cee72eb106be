"""Every kind of answer the sandbox gives validates against Twilio's OpenAPI.

The description is `twilio_api_v2010.json` from the npm package
`@twilio/cli-core`, found through `TWILIO_OPENAPI_SPEC` or in a
`node_modules` folder at or above the repository root. Without it the tests
skip, except under `CI=true`, where they fail.

Validation is openapi-core's. Three things are added to the description, each
narrowly and for a stated reason:

1. Quirk: the description lists no error responses at all, though every
   operation can answer 4xx/5xx with Twilio's error body. Each operation gets a
   `default` response with Twilio's own `Error` schema (from the sibling
   `twilio_oauth_v2.json`, with its four fields required).
2. Quirk: search results declare `latitude`/`longitude` as numbers, but Twilio
   sends strings ("37.790000"), as the description's own examples show and
   twilio-python's `deserialize.decimal` expects. Those two fields, and only on
   the AvailablePhoneNumber schemas, also accept a numeric string.
3. Stricter than the description: it marks no field `required`, so a missing
   field would pass. Every property of the record and list schemas the sandbox
   serves is made required, because Twilio sends every field (null when unset).
"""

from __future__ import annotations

import base64
import copy
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from openapi_core import OpenAPI
from openapi_core.templating.paths.exceptions import PathNotFound
from openapi_core.testing import MockRequest, MockResponse
from openapi_schema_validator import OAS30Validator

from meetzy_numbers.sandbox import SEED, Faults, Sandbox, SandboxResponse

SPEC_RELATIVE = Path("node_modules/@twilio/cli-core/src/services/twilio-api")
SPEC_NAME = "twilio_api_v2010.json"
HOST = "https://api.twilio.com"
API = "/2010-04-01"
MAIN, SPAIN, LATAM, UK = (a[0] for a in SEED.accounts)
TOKENS = {sid: token for sid, _, token, _ in SEED.accounts}
MAIN_KEY, MAIN_KEY_SECRET, _ = SEED.api_keys[0]
SERVED_SCHEMAS = (
    "api.v2010.account",
    "api.v2010.account.incoming_phone_number",
    "api.v2010.account.outgoing_caller_id",
    "api.v2010.account.validation_request",
    "api.v2010.account.call",
)
LIST_KEYS = {
    "accounts",
    "incoming_phone_numbers",
    "outgoing_caller_ids",
    "available_phone_numbers",
    "calls",
}
# Twilio's generic error, as `Error` in twilio_oauth_v2.json; used only when that
# sibling file is absent (a spec given alone through TWILIO_OPENAPI_SPEC).
FALLBACK_ERROR = {
    "type": "object",
    "properties": {
        "code": {"type": "integer", "format": "int32"},
        "message": {"type": "string"},
        "more_info": {"type": "string"},
        "status": {"type": "integer", "format": "int32"},
    },
}


def find_spec() -> Path | None:
    configured = os.environ.get("TWILIO_OPENAPI_SPEC")
    if configured:
        return Path(configured) if Path(configured).is_file() else None
    root = Path(__file__).resolve().parent.parent
    for folder in (root, *root.parents):
        candidate = folder / SPEC_RELATIVE / SPEC_NAME
        if candidate.is_file():
            return candidate
    return None


def error_schema(spec_path: Path) -> dict[str, Any]:
    sibling = spec_path.parent / "twilio_oauth_v2.json"
    schema: dict[str, Any] = FALLBACK_ERROR
    if sibling.is_file():
        schema = json.loads(sibling.read_text())["components"]["schemas"]["Error"]
    schema = copy.deepcopy(schema)
    schema["required"] = ["code", "message", "more_info", "status"]
    return schema


def adapt(spec: dict[str, Any], error: dict[str, Any]) -> dict[str, Any]:
    """The three additions of the module docstring, and nothing else."""
    schemas = spec["components"]["schemas"]
    schemas["sandbox.twilio_error"] = error
    ref = {"$ref": "#/components/schemas/sandbox.twilio_error"}
    for item in spec["paths"].values():
        for method in ("get", "post", "delete"):
            if method in item:
                item[method]["responses"]["default"] = {
                    "description": "Twilio error",
                    "content": {"application/json": {"schema": ref}},
                }
    for name, schema in schemas.items():
        if name.startswith("api.v2010.account.available_phone_number_country."):
            for field in ("latitude", "longitude"):
                schema["properties"][field] = {
                    "type": "string",
                    "pattern": r"^-?\d+(\.\d+)?$",
                    "nullable": True,
                }
            schema["required"] = sorted(schema["properties"])
        if name in SERVED_SCHEMAS:
            schema["required"] = sorted(schema["properties"])
    for item in spec["paths"].values():
        ok = item.get("get", {}).get("responses", {}).get("200", {})
        body = ok.get("content", {}).get("application/json", {}).get("schema", {})
        if LIST_KEYS & set(body.get("properties", {})):
            body["required"] = sorted(body["properties"])
    return spec


@pytest.fixture(scope="module")
def spec_file() -> Path:
    path = find_spec()
    if path is None:
        reason = (
            f"Twilio's OpenAPI description not found: set TWILIO_OPENAPI_SPEC or "
            f"`npm install @twilio/cli-core` ({SPEC_RELATIVE / SPEC_NAME})"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="module")
def openapi(spec_file: Path) -> OpenAPI:
    spec = json.loads(spec_file.read_text())
    return OpenAPI.from_dict(adapt(spec, error_schema(spec_file)))


@pytest.fixture(scope="module")
def error_validator(spec_file: Path) -> OAS30Validator:
    return OAS30Validator(error_schema(spec_file))


def basic(user: str, secret: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


MAIN_AUTH = basic(MAIN, TOKENS[MAIN])


def validate(
    openapi: OpenAPI,
    method: str,
    path: str,
    answer: SandboxResponse,
    query: dict[str, str] | None = None,
) -> None:
    request = MockRequest(HOST, method.lower(), path, args=query or {})
    response = MockResponse(
        answer.body.encode(),
        status_code=answer.status,
        headers=answer.headers,
        content_type=answer.headers["Content-Type"] if answer.body else "",
    )
    openapi.validate_response(request, response)


Step = tuple[str, str, dict[str, str], dict[str, str], dict[str, str], int]


def step(
    method: str,
    path: str,
    status: int,
    *,
    query: dict[str, str] | None = None,
    data: dict[str, str] | None = None,
    auth: dict[str, str] | None = None,
) -> Step:
    return (method, API + path, query or {}, data or {}, auth or MAIN_AUTH, status)


def number(**where: Any) -> Any:
    return next(
        n for n in SEED.numbers if all(getattr(n, k) == v for k, v in where.items())
    )


ASSIGNED = number(state="assigned", account_sid=MAIN)
FREE = number(state="unassigned", account_sid=MAIN)
CID = next(c for c in SEED.caller_ids if c[2] == MAIN)
IPN = f"/Accounts/{MAIN}/IncomingPhoneNumbers"
AVAILABLE = f"/Accounts/{MAIN}/AvailablePhoneNumbers"
ABSENT_PN = "PN" + "0" * 32
CIDS = f"/Accounts/{MAIN}/OutgoingCallerIds"
CALLS = f"/Accounts/{MAIN}/Calls"
SPAIN_IPN = f"/Accounts/{SPAIN}/IncomingPhoneNumbers"
KEY_AUTH = basic(MAIN_KEY, MAIN_KEY_SECRET)
SPAIN_AUTH = basic(SPAIN, TOKENS[SPAIN])

# Each scenario runs in order on a fresh sandbox; every answer is validated.
SCENARIOS: dict[str, list[Step]] = {
    "accounts": [
        step("GET", "/Accounts.json", 200),
        step("GET", "/Accounts.json", 200, query={"Status": "closed"}),
        step("GET", "/Accounts.json", 200, query={"PageSize": "2"}),
        step("GET", f"/Accounts/{MAIN}.json", 200),
        step("GET", f"/Accounts/{UK}.json", 200),
        step("GET", f"/Accounts/AC{'0' * 32}.json", 404),
        step("GET", "/Accounts.json", 401, auth=basic(MAIN, "wrong")),
        step("GET", "/Accounts.json", 400, query={"PageSize": "0"}),
    ],
    "incoming_numbers": [
        step("GET", f"{IPN}.json", 200),
        step("GET", f"{IPN}.json", 200, query={"PageSize": "2", "Page": "1"}),
        step("GET", f"{IPN}.json", 200, query={"PhoneNumber": ASSIGNED.phone_number}),
        step("GET", f"{IPN}/{ASSIGNED.sid}.json", 200),
        step(
            "POST",
            f"{IPN}/{ASSIGNED.sid}.json",
            200,
            data={"VoiceUrl": "", "StatusCallback": ""},
        ),
        step(
            "POST",
            f"{IPN}/{ASSIGNED.sid}.json",
            200,
            data={"TrunkSid": "TK" + "1" * 32},
        ),
        step("POST", f"{IPN}/{ASSIGNED.sid}.json", 400, data={"VoiceUrl": "nope"}),
        step("POST", f"{IPN}/{ASSIGNED.sid}.json", 400, data={"VoiceMethod": "PUT"}),
        step("DELETE", f"{IPN}/{FREE.sid}.json", 204),
        step("DELETE", f"{IPN}/{FREE.sid}.json", 404),
        step("GET", f"{IPN}/{ABSENT_PN}.json", 404),
        step("GET", f"{SPAIN_IPN}.json", 401, auth=KEY_AUTH),
        step("GET", f"{IPN}.json", 403, auth=SPAIN_AUTH),
    ],
    "buying": [
        step(
            "POST",
            f"{IPN}.json",
            201,
            data={"PhoneNumber": "+14155230003", "FriendlyName": "new"},
        ),
        step(
            "POST",
            f"{IPN}.json",
            201,
            data={"AreaCode": "305", "VoiceUrl": "https://x.example/v"},
        ),
        step(
            "POST",
            f"{IPN}.json",
            201,
            data={
                "PhoneNumber": "+447400523001",
                "BundleSid": SEED.approved_bundle_sid,
            },
        ),
        step(
            "POST",
            f"{IPN}.json",
            201,
            data={"PhoneNumber": "+541152300001", "AddressSid": SEED.address_sid},
        ),
        step("POST", f"{IPN}.json", 400, data={"PhoneNumber": "+14155230003"}),
        step("POST", f"{IPN}.json", 400, data={"PhoneNumber": "+447400523002"}),
        step(
            "POST",
            f"{IPN}.json",
            400,
            data={"PhoneNumber": "+447400523002", "BundleSid": SEED.pending_bundle_sid},
        ),
        step("POST", f"{IPN}.json", 400, data={"PhoneNumber": "+541152300002"}),
        step("POST", f"{IPN}.json", 400, data={"AreaCode": "999"}),
        step("POST", f"{IPN}.json", 400, data={"AreaCode": "12"}),
        step("POST", f"{IPN}.json", 400),
    ],
    "search": [
        step("GET", f"{AVAILABLE}/US/Local.json", 200, query={"AreaCode": "415"}),
        step("GET", f"{AVAILABLE}/US/Local.json", 200, query={"AreaCode": "999"}),
        step("GET", f"{AVAILABLE}/US/TollFree.json", 200, query={"Contains": "888*"}),
        step("GET", f"{AVAILABLE}/CA/Local.json", 200, query={"InRegion": "ON"}),
        step("GET", f"{AVAILABLE}/GB/Mobile.json", 200, query={"SmsEnabled": "true"}),
        step("GET", f"{AVAILABLE}/ES/Local.json", 200),
        step("GET", f"{AVAILABLE}/MX/TollFree.json", 200),
        step("GET", f"{AVAILABLE}/AR/Local.json", 200, query={"PageSize": "5"}),
        step("GET", f"{AVAILABLE}/CO/Mobile.json", 200),
        step("GET", f"{AVAILABLE}/CO/National.json", 200),
        step("GET", f"{AVAILABLE}/ZZ/Local.json", 404),
        step("GET", f"{AVAILABLE}/US/Local.json", 400, query={"VoiceEnabled": "maybe"}),
    ],
    "caller_ids": [
        step("GET", f"{CIDS}.json", 200),
        step("GET", f"{CIDS}.json", 200, query={"PhoneNumber": CID[1]}),
        step("GET", f"{CIDS}/{CID[0]}.json", 200),
        step("POST", f"{CIDS}/{CID[0]}.json", 200, data={"FriendlyName": "HQ"}),
        step(
            "POST",
            f"{CIDS}.json",
            200,
            data={"PhoneNumber": "+16505550188", "CallDelay": "5"},
        ),
        step("POST", f"{CIDS}.json", 200, data={"PhoneNumber": "+16505550113"}),
        step("POST", f"{CIDS}.json", 400, data={"PhoneNumber": "+16505550188"}),
        step(
            "POST",
            f"{CIDS}.json",
            400,
            data={"PhoneNumber": "+16505550199", "CallDelay": "61"},
        ),
        step("DELETE", f"{CIDS}/{CID[0]}.json", 204),
        step("GET", f"{CIDS}/{CID[0]}.json", 404),
    ],
    "calls": [
        step("GET", f"{CALLS}.json", 200),
        step(
            "GET",
            f"{CALLS}.json",
            200,
            query={
                "From": ASSIGNED.phone_number,
                "StartTime>": "2026-01-01",
                "PageSize": "5",
            },
        ),
        step(
            "GET",
            f"{CALLS}.json",
            200,
            query={"To": "+16505552000", "Status": "completed"},
        ),
        step("GET", f"{CALLS}.json", 400, query={"Status": "lost"}),
        step("GET", f"{CALLS}/CA{'0' * 32}.json", 404),
    ],
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_answers_match_the_description(openapi: OpenAPI, name: str) -> None:
    sb = Sandbox(None)
    for method, path, query, data, auth, status in SCENARIOS[name]:
        answer = sb.handle(method, HOST + path, params=query, data=data, headers=auth)
        assert answer.status == status, (method, path, query, data, answer.body)
        if status == 204:
            # openapi-core does not check that a 204 carries no body.
            assert answer.body == ""
        validate(openapi, method, path, answer, query)


def test_every_seed_record_matches_the_description(openapi: OpenAPI) -> None:
    sb = Sandbox(None)
    for fact in SEED.numbers:
        path = f"{API}/Accounts/{fact.account_sid}/IncomingPhoneNumbers/{fact.sid}.json"
        answer = sb.handle("GET", HOST + path, headers=MAIN_AUTH)
        validate(openapi, "GET", path, answer)
    for sid, *_ in SEED.accounts:
        path = f"{API}/Accounts/{sid}/Calls.json"
        query = {"PageSize": "1000"}
        validate(
            openapi,
            "GET",
            path,
            sb.handle("GET", HOST + path, params=query, headers=MAIN_AUTH),
            query,
        )
        path = f"{API}/Accounts/{sid}/OutgoingCallerIds.json"
        validate(openapi, "GET", path, sb.handle("GET", HOST + path, headers=MAIN_AUTH))
    for country in ("US", "CA", "ES", "MX", "AR", "CO", "GB"):
        for kind in ("Local", "Mobile", "TollFree"):
            path = f"{API}/Accounts/{MAIN}/AvailablePhoneNumbers/{country}/{kind}.json"
            validate(
                openapi, "GET", path, sb.handle("GET", HOST + path, headers=MAIN_AUTH)
            )


def test_twilio_paging_uri_round_trips(openapi: OpenAPI) -> None:
    sb = Sandbox(None)
    path = f"{API}/Accounts/{MAIN}/Calls.json"
    answer = sb.handle("GET", HOST + path, params={"PageSize": "50"}, headers=MAIN_AUTH)
    next_uri = json.loads(answer.body)["next_page_uri"]
    second = sb.handle("GET", HOST + next_uri, headers=MAIN_AUTH)
    assert second.status == 200
    validate(openapi, "GET", next_uri.split("?")[0], second)


FaultCase = Callable[[], Sandbox]


@pytest.mark.parametrize(
    "make",
    [
        lambda: Sandbox(None, faults=Faults(rate_limit_all=True)),
        lambda: Sandbox(None, faults=Faults(error_rate=1.0)),
    ],
    ids=["429", "503"],
)
def test_fault_answers_match_the_description(openapi: OpenAPI, make: FaultCase) -> None:
    sb = make()
    for method, path in (
        ("GET", f"{API}/Accounts/{MAIN}/IncomingPhoneNumbers.json"),
        ("POST", f"{API}/Accounts/{MAIN}/IncomingPhoneNumbers/{ASSIGNED.sid}.json"),
        ("DELETE", f"{API}/Accounts/{MAIN}/OutgoingCallerIds/{CID[0]}.json"),
    ):
        answer = sb.handle(method, HOST + path, headers=MAIN_AUTH)
        assert answer.status in (429, 503)
        validate(openapi, method, path, answer)


def test_answers_outside_the_description_are_twilio_errors(
    openapi: OpenAPI, error_validator: OAS30Validator
) -> None:
    """Paths and methods the description lacks: no operation to validate
    against, so the body is checked against Twilio's error schema alone."""
    sb = Sandbox(None)
    for method, path, status in (
        ("GET", f"{API}/Accounts/{MAIN}/Messages.json", 404),
        ("GET", f"{API}/Nothing.json", 404),
        ("DELETE", f"{API}/Accounts/{MAIN}/Calls.json", 405),
    ):
        answer = sb.handle(method, HOST + path, headers=MAIN_AUTH)
        assert answer.status == status
        error_validator.validate(json.loads(answer.body))
        if status == 404 and "Messages" not in path:
            with pytest.raises(PathNotFound):
                validate(openapi, method, path, answer)
