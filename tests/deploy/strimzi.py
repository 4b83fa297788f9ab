"""The Strimzi manifests the deploy tests read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
STRIMZI = ROOT / "deploy" / "kubernetes" / "strimzi"


def kafka_users() -> list[dict[str, Any]]:
    return [
        doc
        for doc in yaml.safe_load_all((STRIMZI / "kafka-users.yaml").read_text())
        if doc["kind"] == "KafkaUser"
    ]


def strimzi_user_names() -> set[str]:
    return {user["metadata"]["name"] for user in kafka_users()}
