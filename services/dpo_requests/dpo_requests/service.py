"""How ``vigie`` finds this service (entry point ``vigie.services``)."""

from __future__ import annotations

from pathlib import Path

from dpo_requests.config import Settings
from dpo_requests.demo import seed_demo
from vigie_shared.kit.runtime import ServiceSpec

SERVICE = ServiceSpec(
    name="dpo_requests",
    schema="dpo",
    default_port=8001,
    migrations=Path(__file__).with_name("migrations"),
    module="dpo_requests",
    settings_factory=Settings,
    seed_demo=seed_demo,
    pages=(("Pages (learners, DPO)", "/pages/"),),
)
