from __future__ import annotations

import uuid

from dpo_requests.config import SOURCE
from dpo_requests.deadlines import compute_deadline
from dpo_requests.requests.repository import RequestRepository, request_repository
from dpo_requests.requests.schemas import RequestCreate, RequestPublic
from vigie_shared.events import DpoRequestReceived, new_event
from vigie_shared.kit import outbox
from vigie_shared.kit.db import Conn


class RequestService:
    def __init__(self, repository: RequestRepository) -> None:
        self._repository = repository

    async def register(self, conn: Conn, data: RequestCreate) -> RequestPublic:
        """Record a request with its Art. 12(3) due date and announce it, in one transaction."""
        deadline = compute_deadline(data.received_at)
        async with conn.transaction():
            row = await self._repository.insert(
                conn,
                request_id=f"r-{uuid.uuid4().hex[:12]}",
                request_type=data.request_type.value,
                requester=data.requester,
                subject_id=data.subject_id,
                message=data.message,
                channel=data.channel,
                received_at=data.received_at,
                due_on=deadline.due_on,
            )
            request = RequestPublic.model_validate(dict(row))
            assert request.due_on is not None
            await outbox.enqueue(
                conn,
                new_event(
                    DpoRequestReceived(
                        request_id=request.id,
                        subject_id=request.subject_id,
                        request_type=request.request_type,
                        received_on=deadline.received_on,
                        due_on=request.due_on,
                    ),
                    subject=request.subject_id or request.id,
                    source=SOURCE,
                ),
            )
        return request


rights_request = RequestService(request_repository)
