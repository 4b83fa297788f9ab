"""The request service: lifecycle transitions, completion by task results, and queries, as
one object (:data:`rights_request`) for the edges (API, pages, Kafka handlers, scheduler).

Each concern lives in its own module: :mod:`.lifecycle` (received → … → closed),
:mod:`.completion` (task results → request completed), :mod:`.queries` (pages and detail);
:mod:`.core` holds what they share.
"""

from __future__ import annotations

from dpo_requests.notifications.service import email_sender
from dpo_requests.packages.service import package_service
from dpo_requests.requests.core import SYSTEM, actor_of
from dpo_requests.requests.lifecycle import RequestLifecycle
from dpo_requests.requests.queries import RequestQueries
from dpo_requests.requests.repository import request_repository
from dpo_requests.tasks.service import task_service

__all__ = ["SYSTEM", "RequestService", "actor_of", "rights_request"]


class RequestService(RequestLifecycle, RequestQueries):
    """Every operation on a rights request."""


rights_request = RequestService(request_repository, task_service, package_service, email_sender)
