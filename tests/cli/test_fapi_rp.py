"""A FAPI 2.0 relying party written with openid-client (``tools/openid-client/rp.mjs``, not the
project's code) against ``vigie up``, registered as docs/fapi.md says: PAR, PKCE S256,
private_key_jwt, DPoP-bound tokens at the token and userinfo endpoints and at refresh, iss in
the authorization response; a plain authorization URL and a client secret get it nowhere."""

from __future__ import annotations

import fcntl
import functools
import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc.jwk import ECKey

from tests.cli.vigie_up import CALLBACK, Up, clean_env, vigie

RP = Path(__file__).resolve().parents[2] / "tools" / "openid-client"
USERNAME = "fapi.learner"
PASSWORD = "fapi-apprenant-2026"
CLIENT_ID = "fapi-bank"


@functools.cache
def node_unavailable_reason() -> str | None:
    """Why the relying party cannot run here, if it cannot: it needs Node.js 20 and npm."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            return f"{tool} not installed (Debian: apt-get install nodejs npm)"
    version = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False)
    major = version.stdout.strip().lstrip("v").split(".")[0]
    if not major.isdigit() or int(major) < 20:
        return f"node {version.stdout.strip()} is older than 20, which openid-client 6 needs"
    return None


pytestmark = [
    pytest.mark.broker,
    pytest.mark.skipif(
        node_unavailable_reason() is not None, reason=f"openid-client: {node_unavailable_reason()}"
    ),
]


@pytest.fixture(scope="session")
def rp_installed() -> Path:
    """``npm ci`` of the locked openid-client into tools/openid-client/node_modules (git-ignored),
    once per session; a lock keeps two sessions from replacing it under each other."""
    with (Path(tempfile.gettempdir()) / "vigie-openid-client-npm.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = subprocess.run(
            ["npm", "ci", "--prefix", str(RP), "--no-audit", "--no-fund"],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    return RP / "rp.mjs"


@dataclass(frozen=True)
class Stack:
    up: Up
    env: dict[str, str]
    issuer: str
    sub: str
    registered: str
    """What ``vigie client add --fapi --json`` printed."""
    client_key: Path


def node(script: Path, *argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["node", str(script), *argv],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def keygen(script: Path, folder: Path) -> tuple[Path, Path]:
    """A client key pair made by the relying party's own ``keygen`` (as docs/fapi.md does):
    the private JWK and the public JWK Set to register."""
    private, public = folder / "client.jwk.json", folder / "client.jwks.json"
    made = node(script, "keygen", "--private", str(private), "--public", str(public))
    assert made.returncode == 0, made.stdout + made.stderr
    return private, public


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, rp_installed: Path) -> Iterator[Stack]:
    """One ``vigie up`` for the module (it is slow to start), with a learner and the FAPI
    client registered on it."""
    folder = tmp_path_factory.mktemp("fapi")
    data_dir = folder / "data"
    with Up(data_dir, demo=False) as up:
        up.wait_up()
        env = clean_env(VIGIE_DATA_DIR=str(data_dir))
        user = vigie(
            "user",
            "add",
            "--username",
            USERNAME,
            "--email",
            "fapi.learner@example.org",
            "--password-stdin",
            "--json",
            env=env,
            stdin=PASSWORD,
        )
        assert user.returncode == 0, user.stdout + user.stderr
        private, public = keygen(rp_installed, folder)
        client = vigie(
            "client",
            "add",
            "--name",
            "FAPI bank",
            "--client-id",
            CLIENT_ID,
            "--fapi",
            "--jwks",
            str(public),
            "--redirect-uri",
            CALLBACK,
            "--json",
            env=env,
        )
        assert client.returncode == 0, client.stdout + client.stderr
        yield Stack(
            up=up,
            env=env,
            issuer=up.url("sso_gateway"),
            sub=json.loads(user.stdout)["id"],
            registered=client.stdout,
            client_key=private,
        )
        up.interrupt()


def run_rp(script: Path, stack: Stack, *extra: str, dpop_key: Path | None = None) -> dict[str, Any]:
    argv = [
        "flow",
        "--issuer",
        stack.issuer,
        "--client-id",
        CLIENT_ID,
        "--client-key",
        str(stack.client_key),
        "--redirect-uri",
        CALLBACK,
        "--username",
        USERNAME,
        *(["--dpop-key", str(dpop_key)] if dpop_key else []),
        *extra,
    ]
    done = node(script, *argv, stdin=PASSWORD)
    assert done.returncode == 0, f"the relying party failed:\n{done.stdout}\n{done.stderr}"
    seen: dict[str, Any] = json.loads(done.stdout)
    return seen


def test_openid_client_runs_the_fapi_flow_with_par_private_key_jwt_and_dpop(
    stack: Stack, rp_installed: Path, tmp_path: Path
) -> None:
    # The DPoP key is made here, not by the relying party: its thumbprint (RFC 7638) is then
    # computed independently of the code under test.
    key = ECKey.generate_key("P-256")
    dpop_key = tmp_path / "dpop.jwk.json"
    dpop_key.write_text(json.dumps(key.as_dict(private=True)))
    jkt = key.thumbprint()

    seen = run_rp(rp_installed, stack, dpop_key=dpop_key)

    assert seen["ok"] is True
    assert seen["dpop_jkt"] == jkt
    # RFC 9126 §4: the authorization request reaches /authorize by reference only.
    assert seen["par"]["authorization_url_params"] == ["client_id", "request_uri"]
    assert seen["par"]["request_uri"].startswith("urn:ietf:params:oauth:request_uri:")
    # RFC 9207: iss in the response, and a response naming another issuer refused by the client.
    assert seen["callback"]["iss"] == stack.issuer
    assert seen["iss_mix_up"]["refused"] is True, seen["iss_mix_up"]
    assert '"iss"' in seen["iss_mix_up"]["reason"], seen["iss_mix_up"]
    # RFC 9449 §5: a DPoP token (oauth4webapi lower-cases token_type, RFC 6749 §5.1's
    # case-insensitive value), bound to the proof's key (§6.1).
    assert seen["token_type"].lower() == "dpop"
    assert seen["access_token"]["cnf"] == {"jkt": jkt}
    assert seen["access_token"]["sub"] == stack.sub
    assert seen["access_token"]["client_id"] == CLIENT_ID
    assert seen["id_token"]["iss"] == stack.issuer
    assert seen["id_token"]["aud"] == CLIENT_ID
    assert seen["id_token"]["sub"] == stack.sub
    assert seen["userinfo"]["sub"] == stack.sub
    assert seen["userinfo"]["preferred_username"] == USERNAME
    # RFC 9449 §7.1: without its proof, or with another key's, the token is no use.
    assert seen["bearer_use"]["status"] == 401, seen["bearer_use"]
    assert seen["bearer_use"]["www_authenticate"].startswith("DPoP "), seen["bearer_use"]
    assert seen["other_dpop_key"]["refused"] is True, seen["other_dpop_key"]
    refresh = seen["refresh"]
    assert refresh["token_type"].lower() == "dpop"
    assert refresh["new_access_token"] is True
    assert refresh["access_token"]["cnf"] == {"jkt": jkt}
    assert refresh["access_token"]["jti"] != seen["access_token"]["jti"]
    assert refresh["userinfo_sub"] == stack.sub
    # The refresh token rotates, and a retry with the one just sent, whose successor was never
    # used (a lost answer), still succeeds: FAPI 2.0 Security Profile §5.3.2.1.
    assert refresh["new_refresh_token"] is True
    retried = refresh["retry_with_previous"]
    assert retried["accepted"] is True, retried
    assert retried["token_type"].lower() == "dpop"
    assert retried["cnf"] == {"jkt": jkt}


def test_a_plain_authorization_url_of_the_fapi_client_is_refused(
    stack: Stack, rp_installed: Path
) -> None:
    seen = run_rp(rp_installed, stack, "--plain")
    # RFC 9126 §5: a client that must push its requests is refused one that was not, sent back
    # to its (registered) redirect URI with the error and the issuer, never to the login page.
    assert seen["redirected_to_callback"] is True, seen
    assert seen["params"]["error"] == "invalid_request", seen
    assert seen["params"]["iss"] == stack.issuer
    assert "code" not in seen["params"]


def test_the_fapi_client_has_no_secret_to_authenticate_with(stack: Stack, tmp_path: Path) -> None:
    # Registration shows no secret, in JSON or as text.
    assert json.loads(stack.registered) == {"client_id": CLIENT_ID}
    _, public = keygen(RP / "rp.mjs", tmp_path)
    text = vigie(
        "client",
        "add",
        "--name",
        "FAPI other",
        "--fapi",
        "--jwks",
        str(public),
        "--redirect-uri",
        CALLBACK,
        env=stack.env,
    )
    assert text.returncode == 0, text.stderr
    assert text.stdout == "client_id: fapi-other\n"
    # Nor can a FAPI client be registered with one.
    refused = vigie(
        "client",
        "add",
        "--name",
        "FAPI secret",
        "--fapi",
        "--auth-method",
        "client_secret_basic",
        "--jwks",
        str(public),
        "--redirect-uri",
        CALLBACK,
        env=stack.env,
    )
    assert refused.returncode == 1
    assert "a FAPI client authenticates with private_key_jwt" in refused.stderr
    # A secret guessed, sent either way RFC 6749 §2.3.1 allows, authenticates nowhere.
    push = {
        "response_type": "code",
        "redirect_uri": CALLBACK,
        "scope": "openid",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    }
    with httpx.Client(base_url=stack.issuer, timeout=10) as http:
        for path, form in (("/par", push), ("/token", {"grant_type": "refresh_token"})):
            basic = http.post(path, data=form, auth=(CLIENT_ID, "guessed"))
            posted = http.post(
                path, data={**form, "client_id": CLIENT_ID, "client_secret": "guessed"}
            )
            for answer in (basic, posted):
                assert answer.status_code == 401, (path, answer.text)
                assert answer.json()["error"] == "invalid_client", (path, answer.text)


def test_discovery_advertises_what_the_fapi_client_uses(stack: Stack) -> None:
    """What a FAPI client configures itself from: the metadata (RFC 8414) names the PAR
    endpoint, iss in responses, PKCE S256, its authentication method and the algorithms of its
    client assertions and DPoP proofs."""
    metadata = httpx.get(f"{stack.issuer}/.well-known/openid-configuration", timeout=10).json()
    assert metadata["pushed_authorization_request_endpoint"] == f"{stack.issuer}/par"
    assert metadata["authorization_response_iss_parameter_supported"] is True
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    # RFC 8414 §2: the client authentication methods, and with private_key_jwt listed, the
    # signing algorithms its assertions may use.
    assert "private_key_jwt" in metadata["token_endpoint_auth_methods_supported"], metadata
    assert "ES256" in metadata.get("token_endpoint_auth_signing_alg_values_supported", []), metadata
    # RFC 9449 §5.1: the algorithms the token endpoint accepts for DPoP proofs.
    assert "ES256" in metadata.get("dpop_signing_alg_values_supported", []), metadata
