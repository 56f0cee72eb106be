"""Numbers the sandbox has for sale, in the six countries the tool supports.

Regulatory rules of the pool: GB Local and Mobile numbers need a twilio-approved
bundle (21649 without one); every AR number needs an address in Argentina
(21631 without one). Everything else can be bought with no paperwork.
"""

from __future__ import annotations

from typing import Final, NamedTuple

from .render import formatted
from .state import Json


class Block(NamedTuple):
    country: str
    kind: str
    area_code: str
    prefix: str
    size: int
    capabilities: str
    locality: str | None = None
    region: str | None = None
    postal_code: str | None = None
    lat_lon: tuple[str, str] | None = None
    rate_center: str | None = None
    lata: str | None = None
    address_requirements: str = "none"
    bundle_required: bool = False


# Prefixes leave four (or three) digits for the block's counter; every number is
# valid for `phonenumbers` (checked by the tests).
BLOCKS: Final = (
    Block(
        "US", "Local", "415", "+1415523", 40, "vsm", "San Francisco", "CA", "94105",
        ("37.790000", "-122.400000"), "SNFC CNTRL", "722",
    ),
    Block(
        "US", "Local", "212", "+1212523", 12, "vsm", "New York", "NY", "10001",
        ("40.750000", "-73.990000"), "NWYRCYZN01", "132",
    ),
    Block(
        "US", "Local", "305", "+1305523", 12, "vsmf", "Miami", "FL", "33130",
        ("25.770000", "-80.200000"), "MIAMI", "460",
    ),
    Block("US", "TollFree", "888", "+1888523", 10, "vs"),
    Block(
        "CA", "Local", "416", "+1416523", 8, "vs", "Toronto", "ON", "M5H",
        ("43.650000", "-79.380000"), "TORONTO",
    ),
    Block(
        "CA", "Local", "604", "+1604523", 8, "vs", "Vancouver", "BC", "V6B",
        ("49.280000", "-123.120000"), "VANCOUVER",
    ),
    Block("ES", "Local", "91", "+3491523", 12, "v", "Madrid", "Madrid"),
    Block("ES", "Local", "93", "+3493523", 8, "v", "Barcelona", "Barcelona"),
    Block("ES", "Mobile", "612", "+34612523", 10, "vs"),
    Block("ES", "TollFree", "900", "+34900523", 5, "v"),
    Block("MX", "Local", "55", "+52555230", 12, "vs", "Ciudad de Mexico", "CMX"),
    Block("MX", "Local", "33", "+52335230", 8, "vs", "Guadalajara", "JAL"),
    Block("MX", "TollFree", "800", "+52800523", 5, "v"),
    Block(
        "AR", "Local", "11", "+54115230", 10, "v", "Buenos Aires", "C",
        address_requirements="local",
    ),
    Block("AR", "Mobile", "11", "+549115230", 5, "vs", address_requirements="local"),
    Block("AR", "TollFree", "800", "+54800523", 3, "v", address_requirements="local"),
    Block("CO", "Local", "601", "+57601523", 10, "v", "Bogota", "DC"),
    Block("CO", "Mobile", "310", "+57310523", 6, "vs"),
    Block("CO", "TollFree", "1800", "+571800523", 3, "v"),
    Block(
        "GB", "Local", "20", "+44203523", 12, "v", "London", "London",
        bundle_required=True,
    ),
    Block(
        "GB", "Local", "161", "+44161523", 6, "v", "Manchester", "Manchester",
        bundle_required=True,
    ),
    Block("GB", "Mobile", "7400", "+447400523", 8, "vs", bundle_required=True),
    Block("GB", "TollFree", "800", "+44800523", 6, "v"),
)  # fmt: skip


def _digits_left(prefix: str) -> int:
    """Subscriber digits a block fills in, from its country's number length."""
    national = {"+1": 10, "+34": 9, "+52": 10, "+54": 10, "+57": 10, "+44": 10}
    for cc, length in national.items():
        if prefix.startswith(cc):
            extra = 1 if prefix.startswith(("+549", "+571800")) else 0
            return length + extra - (len(prefix) - len(cc))
    raise ValueError(prefix)


def entry(block: Block, i: int) -> Json:
    width = _digits_left(block.prefix)
    phone = f"{block.prefix}{i:0{width}d}"
    lat, lon = block.lat_lon or (None, None)
    return {
        "phone_number": phone,
        "friendly_name": formatted(phone),
        "type": block.kind,
        "iso_country": block.country,
        "area_code": block.area_code,
        "locality": block.locality,
        "region": block.region,
        "postal_code": block.postal_code,
        "latitude": lat,
        "longitude": lon,
        "rate_center": block.rate_center,
        "lata": block.lata,
        "capabilities": block.capabilities,
        "address_requirements": block.address_requirements,
        "bundle_required": block.bundle_required,
    }


def build_pool() -> dict[str, list[Json]]:
    pool: dict[str, list[Json]] = {}
    for block in BLOCKS:
        entries = pool.setdefault(block.country, [])
        entries += [entry(block, i) for i in range(block.size)]
    return pool
