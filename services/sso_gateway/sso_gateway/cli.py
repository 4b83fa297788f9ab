"""Administration commands: ``vigie user add|list|show|password|sign-out``, ``vigie client add``,
``vigie access suspend|restore``, ``vigie keys rotate``, ``vigie signals streams|verify``.

``register_commands`` adds them to the ``vigie`` command (entry point group ``vigie.commands``);
``vigie-sso-admin`` runs them alone. Each finds the stack it administers as every ``vigie``
command does (``kit.stack_file``): the running ``vigie up``'s database unless told otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sso_gateway.access.repository import access_repository
from sso_gateway.access.service import AccessService
from sso_gateway.clients.schemas import ClientCreate
from sso_gateway.clients.service import ClientAlreadyExists, client
from sso_gateway.config import Settings
from sso_gateway.keys.service import keys
from sso_gateway.password.service import NewPassword, NoSuchAccount, passwords
from sso_gateway.service import SERVICE
from sso_gateway.sessions.service import sessions
from sso_gateway.signals.delivery import delivery
from sso_gateway.signals.resource import SCOPES as SIGNAL_SCOPES
from sso_gateway.signals.service import StreamNotFound, signals
from sso_gateway.signals.wiring import report_access_changes
from sso_gateway.users.repository import user_repository
from sso_gateway.users.schemas import UserCreate
from sso_gateway.users.service import UserAlreadyExists, user
from vigie_shared.kit import db
from vigie_shared.kit.clock import utcnow
from vigie_shared.kit.db import Conn
from vigie_shared.kit.migrate import migrate
from vigie_shared.kit.stack_file import Command, add_stack_arguments, stack_command

ROLES = ("learner", "dpo", "accounting", "admin")
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")


def _settings(_: argparse.Namespace) -> Settings:
    """The settings of the stack ``stack_command`` resolved (``--database-url`` included)."""
    return Settings()


async def _connect(args: argparse.Namespace, settings: Settings) -> Any:
    await migrate(settings.database_url, args.schema, SERVICE.migrations)
    return await db.connect(settings.database_url, args.schema)


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


async def _user_add(args: argparse.Namespace) -> int:
    settings = _settings(args)
    password = sys.stdin.readline().rstrip("\r\n") if args.password_stdin else ""
    try:
        data = UserCreate(
            username=args.username,
            email=args.email,
            display_name=args.display_name or args.username,
            password=password,
            roles=args.role or ["learner"],
        )
    except ValidationError as exc:
        return _fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))
    conn = await _connect(args, settings)
    try:
        created = await user.create(conn, data)
    except UserAlreadyExists:
        return _fail("that e-mail or username is taken")
    finally:
        await conn.close()
    output = created.model_dump(mode="json")
    print(json.dumps(output) if args.json else f"created {created.id} ({created.email})")
    return 0


async def _user_password(args: argparse.Namespace) -> int:
    settings = _settings(args)
    try:
        new = NewPassword(password=sys.stdin.readline().rstrip("\r\n"))
    except ValidationError as exc:
        return _fail("; ".join(f"password: {e['msg']}" for e in exc.errors()))
    conn = await _connect(args, settings)
    try:
        user_id, changed = await passwords.reset(conn, settings, identifier=args.user, new=new)
    except NoSuchAccount:
        return _fail(f"no account {args.user}")
    finally:
        await conn.close()
    result = {"user_id": user_id, "sessions_ended": changed.sessions_ended}
    print(
        json.dumps(result)
        if args.json
        else f"password of {user_id} reset; {changed.sessions_ended} session(s) ended"
    )
    return 0


async def _user_sign_out(args: argparse.Namespace) -> int:
    settings = _settings(args)
    conn = await _connect(args, settings)
    try:
        done = await sessions.sign_out(conn, settings, args.user)
    finally:
        await conn.close()
    if done is None:
        return _fail(f"no account {args.user}")
    print(
        json.dumps(done.model_dump())
        if args.json
        else f"{done.sessions_ended} session(s) of {done.user_id} ended; its platforms are told"
    )
    return 0


async def _user_show(args: argparse.Namespace) -> int:
    conn = await _connect(args, _settings(args))
    try:
        account = await user_repository.public_by_email(conn, args.email)
        if account is None:
            return _fail(f"no account with the e-mail {args.email}")
        suspended = await AccessService(access_repository).is_suspended(conn, account.id)
    finally:
        await conn.close()
    if args.json:
        print(json.dumps({**account.model_dump(mode="json"), "suspended": suspended}))
        return 0
    print(f"id: {account.id}")
    print(f"email: {account.email}")
    print(f"username: {account.username or '-'}")
    print(f"display name: {account.display_name}")
    print(f"roles: {', '.join(account.roles)}")
    print(f"created: {account.created_at.isoformat(timespec='seconds')}")
    print(f"access: {'suspended' if suspended else 'open'}")
    return 0


async def _user_list(args: argparse.Namespace) -> int:
    conn = await _connect(args, _settings(args))
    try:
        accounts = await user_repository.list_public(
            conn, limit=args.limit, after_email=args.after, role=args.role
        )
    finally:
        await conn.close()
    if args.json:
        print(json.dumps([account.model_dump(mode="json") for account in accounts]))
        return 0
    for account in accounts:
        roles = ",".join(account.roles)
        print(f"{account.id}  {account.email:<40} {roles:<16} {account.display_name}")
    if len(accounts) == args.limit:
        print(f"(more: --after {accounts[-1].email})", file=sys.stderr)
    return 0


def _read_jwks(path: str) -> dict[str, Any]:
    """A JWK Set from a file (``-``: stdin)."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
        jwks = json.loads(text)
    except (OSError, ValueError) as exc:
        raise ValueError(f"--jwks {path}: {exc}") from exc
    if not isinstance(jwks, dict):
        raise ValueError(f"--jwks {path}: not a JSON object")
    return jwks


async def _client_add(args: argparse.Namespace) -> int:
    settings = _settings(args)
    try:
        data = ClientCreate(
            client_id=args.client_id or args.name.lower().replace(" ", "-"),
            name=args.name,
            redirect_uris=args.redirect_uri or [],
            post_logout_redirect_uris=args.post_logout_redirect_uri or [],
            backchannel_logout_uri=args.backchannel_logout_uri,
            client_uri=args.client_uri,
            public=args.public,
            grant_types=args.grant_type or ["authorization_code", "refresh_token"],
            audiences=args.audience or [],
            signing_alg=args.signing_alg,
            training_platform=not args.not_training_platform,
            scopes=args.scope or [],
            token_endpoint_auth_method=args.auth_method,
            jwks=_read_jwks(args.jwks) if args.jwks else None,
            jwks_uri=args.jwks_uri,
            require_pushed_authorization_requests=args.require_par,
            dpop_bound_access_tokens=args.dpop,
            fapi=args.fapi,
        )
    except (ValidationError, ValueError) as exc:
        if not isinstance(exc, ValidationError):
            return _fail(str(exc))
        return _fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))
    conn = await _connect(args, settings)
    try:
        created = await client.add(conn, data, secret_key=settings.secret_key)
    except ClientAlreadyExists:
        return _fail(f"client {data.client_id} exists")
    finally:
        await conn.close()
    if args.json:
        print(json.dumps(created.model_dump(exclude_none=True)))
    else:
        print(f"client_id: {created.client_id}")
        if created.client_secret:
            print(f"client_secret: {created.client_secret}  (shown once)")
    return 0


async def _keys_rotate(args: argparse.Namespace) -> int:
    settings = _settings(args)
    conn = await _connect(args, settings)
    try:
        await keys.ensure(conn, settings.secret_key)
        delay = settings.key_publish_delay if args.publish_delay is None else args.publish_delay
        kids = await keys.rotate(
            conn,
            settings.secret_key,
            publish_delay=delay,
            token_ttl=settings.access_token_ttl,
        )
    finally:
        await conn.close()
    result = {"published": kids, "signs_in_seconds": delay}
    print(json.dumps(result) if args.json else f"published {', '.join(kids)}; signing in {delay}s")
    return 0


async def _access_decide(args: argparse.Namespace) -> int:
    settings = _settings(args)
    conn = await _connect(args, settings)
    service = AccessService(access_repository)

    async def sign_out(conn: Conn, learner_id: str) -> None:
        await sessions.revoke_all(conn, settings, learner_id, "suspension")

    service.on_suspension(sign_out)
    report_access_changes(service, settings)
    try:
        decision = await service.decide_manually(
            conn,
            args.learner,
            suspend=args.action == "suspend",
            reason=args.reason,
            actor_id=args.actor,
            now=utcnow(),
        )
    except ValueError as exc:
        return _fail(str(exc))
    finally:
        await conn.close()
    result = {"learner_id": args.learner, "suspended": decision.suspended}
    print(
        json.dumps(result)
        if args.json
        else f"{args.learner}: {'suspended' if decision.suspended else 'access restored'}"
    )
    return 0


async def _signals_streams(args: argparse.Namespace) -> int:
    settings = _settings(args)
    conn = await _connect(args, settings)
    try:
        states = await delivery.states(conn)
    finally:
        await conn.close()
    if args.json:
        print(json.dumps([asdict(s) for s in states], default=str))
        return 0
    for s in states:
        print(
            f"{s.stream_id}  {s.client_id}  {s.delivery_method.removeprefix('urn:ietf:rfc:')}"
            f"  {s.status}  pending {s.pending}  delivered {s.delivered}  failed {s.failed}"
            f"  dropped {s.dropped}" + (f"  last error: {s.last_error}" if s.last_error else "")
        )
    return 0


async def _signals_verify(args: argparse.Namespace) -> int:
    settings = _settings(args)
    conn = await _connect(args, settings)
    try:
        await signals.verify_for_operator(conn, settings, args.stream, args.state)
    except StreamNotFound:
        return _fail(f"no stream {args.stream}")
    finally:
        await conn.close()
    print(json.dumps({"verification": args.stream}) if args.json else "verification SET queued")
    return 0


def _command(run: Callable[[argparse.Namespace], Coroutine[Any, Any, int]]) -> Command:
    @stack_command()
    def func(args: argparse.Namespace) -> int:
        return asyncio.run(run(args))

    return func


def _common(parser: argparse.ArgumentParser) -> None:
    add_stack_arguments(parser)
    parser.add_argument("--schema", default=SERVICE.schema, help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="print JSON")


def register_commands(subparsers: Any) -> None:
    users = subparsers.add_parser("user", help="SSO accounts")
    user_sub = users.add_subparsers(dest="user_command", required=True)
    add = user_sub.add_parser("add", help="create an account (password read from stdin)")
    add.add_argument("--username", required=True)
    add.add_argument("--email", required=True)
    add.add_argument("--display-name")
    add.add_argument("--password-stdin", action="store_true", required=True)
    add.add_argument("--role", action="append", choices=ROLES)
    _common(add)
    add.set_defaults(func=_command(_user_add))
    listing = user_sub.add_parser("list", help="accounts by e-mail, with their ids and roles")
    listing.add_argument("--role", help="only accounts with this role")
    listing.add_argument("--limit", type=int, default=100, help="at most this many (100)")
    listing.add_argument("--after", metavar="EMAIL", help="the accounts after this e-mail")
    _common(listing)
    listing.set_defaults(func=_command(_user_list))
    show = user_sub.add_parser(
        "show", help="an account's id (what access suspend --learner takes), roles and access"
    )
    show.add_argument("email")
    _common(show)
    show.set_defaults(func=_command(_user_show))
    sign_out = user_sub.add_parser(
        "sign-out",
        help="end every session of an account (a lost device, a compromised account); its "
        "platforms are told by back-channel logout",
    )
    sign_out.add_argument("user", help="the account's id, username or e-mail")
    _common(sign_out)
    sign_out.set_defaults(func=_command(_user_sign_out))

    reset = user_sub.add_parser(
        "password",
        help="reset an account's password (the new one read from stdin); its sessions end",
    )
    reset.add_argument("user", help="the account's id, username or e-mail")
    reset.add_argument("--password-stdin", action="store_true", required=True)
    _common(reset)
    reset.set_defaults(func=_command(_user_password))

    clients = subparsers.add_parser("client", help="OIDC relying parties (platforms)")
    client_sub = clients.add_subparsers(dest="client_command", required=True)
    cadd = client_sub.add_parser("add", help="register a platform")
    cadd.add_argument("--name", required=True)
    cadd.add_argument("--client-id", help="default: derived from the name")
    cadd.add_argument("--redirect-uri", action="append")
    cadd.add_argument("--post-logout-redirect-uri", action="append")
    cadd.add_argument("--backchannel-logout-uri")
    cadd.add_argument(
        "--client-uri", help="its home page (shown to suspended learners if still reachable)"
    )
    cadd.add_argument("--public", action="store_true", help="no secret; PKCE S256 required")
    cadd.add_argument("--grant-type", action="append", choices=GRANT_TYPES)
    cadd.add_argument("--audience", action="append", help="resource it may request (RFC 8707)")
    cadd.add_argument("--signing-alg", choices=("ES256", "RS256"), default="ES256")
    cadd.add_argument(
        "--scope",
        action="append",
        choices=SIGNAL_SCOPES,
        help="a scope beyond the OpenID ones (repeatable): ssf.manage, ssf.read make it a "
        "Shared Signals receiver",
    )
    cadd.add_argument("--not-training-platform", action="store_true")
    cadd.add_argument(
        "--fapi",
        action="store_true",
        help="FAPI 2.0 Security Profile: private_key_jwt (give --jwks-uri or --jwks), PAR, "
        "PKCE S256 and DPoP-bound tokens",
    )
    cadd.add_argument(
        "--auth-method",
        choices=("none", "client_secret_basic", "client_secret_post", "private_key_jwt"),
        help="token endpoint authentication (RFC 7591 §2); default: a secret, none if --public",
    )
    cadd.add_argument("--jwks-uri", help="where its public keys are (private_key_jwt)")
    cadd.add_argument("--jwks", help="a file with its public JWK Set (private_key_jwt); -: stdin")
    cadd.add_argument(
        "--require-par", action="store_true", help="authorization requests only by PAR (RFC 9126)"
    )
    cadd.add_argument("--dpop", action="store_true", help="its access tokens DPoP-bound (RFC 9449)")
    _common(cadd)
    cadd.set_defaults(func=_command(_client_add))

    access_parser = subparsers.add_parser(
        "access", help="suspend or restore a learner's access to training platforms"
    )
    access_sub = access_parser.add_subparsers(dest="action", required=True)
    for action, text in (("suspend", "suspend by hand"), ("restore", "restore by hand")):
        decide = access_sub.add_parser(action, help=f"{text} (accounting), with a reason")
        decide.add_argument("--learner", required=True, help="the learner's user id")
        decide.add_argument("--reason", required=True, help="recorded and sent in the event")
        decide.add_argument("--actor", required=True, help="user id of the accountant deciding")
        _common(decide)
        decide.set_defaults(func=_command(_access_decide))

    signals_parser = subparsers.add_parser(
        "signals", help="Shared Signals streams: delivery state, verification events"
    )
    signals_sub = signals_parser.add_subparsers(dest="signals_command", required=True)
    listing = signals_sub.add_parser("streams", help="every stream and its delivery state")
    _common(listing)
    listing.set_defaults(func=_command(_signals_streams))
    verify = signals_sub.add_parser("verify", help="send a stream a verification event")
    verify.add_argument("--stream", required=True, help="the stream id")
    verify.add_argument("--state", help="echoed in the verification SET")
    _common(verify)
    verify.set_defaults(func=_command(_signals_verify))

    key_parser = subparsers.add_parser("keys", help="signing keys")
    key_sub = key_parser.add_subparsers(dest="keys_command", required=True)
    rotate = key_sub.add_parser("rotate", help="publish new keys; they sign after a delay")
    rotate.add_argument("--publish-delay", type=int, help="seconds (default: settings)")
    _common(rotate)
    rotate.set_defaults(func=_command(_keys_rotate))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vigie-sso-admin")
    register_commands(parser.add_subparsers(dest="command", required=True))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
