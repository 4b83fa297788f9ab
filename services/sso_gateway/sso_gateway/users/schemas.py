from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, EmailStr, Field

Role = Literal["learner", "dpo", "accounting", "admin"]


class UserCreate(BaseModel):
    email: EmailStr
    display_name: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=12, max_length=1024, repr=False)
    roles: list[str] = Field(default_factory=lambda: ["learner"])
    username: str | None = Field(
        None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{1,63}$", examples=["camille.martin"]
    )


class UserPublic(BaseModel):
    id: str
    email: str
    display_name: str
    roles: list[str]
    created_at: datetime
    username: str | None = None
