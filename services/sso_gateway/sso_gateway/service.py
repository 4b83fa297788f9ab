"""How ``vigie`` finds this service (entry point ``vigie.services``)."""

from __future__ import annotations

from pathlib import Path

from sso_gateway.config import Settings
from sso_gateway.demo import seed_demo
from vigie_shared.kit.runtime import ServiceSpec

SERVICE = ServiceSpec(
    name="sso_gateway",
    schema="sso",
    default_port=8000,
    migrations=Path(__file__).with_name("migrations"),
    module="sso_gateway",
    settings_factory=Settings,
    seed_demo=seed_demo,
)
