"""The payment portal's old import path, kept only while ``tests/kit/test_secrets.py`` still
imports from it; the portal lives in ``vigie_shared.demo.payment``."""

from vigie_shared.demo.payment import session as session
