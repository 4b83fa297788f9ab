"""How ``vigie`` finds this service (entry point ``vigie.services``)."""

from __future__ import annotations

from pathlib import Path

from audit_log.config import Settings
from vigie_shared.kit.runtime import ServiceSpec

SERVICE = ServiceSpec(
    name="audit_log",
    schema="audit",
    default_port=8002,
    migrations=Path(__file__).with_name("migrations"),
    module="audit_log",
    settings_factory=Settings,
)
