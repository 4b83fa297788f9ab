"""Fixtures of the kit's tests."""

from tests.kit.support import deps

__all__ = ["deps"]
