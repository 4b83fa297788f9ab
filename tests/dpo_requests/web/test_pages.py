"""The pages over HTTP (ASGI): forms without JavaScript, CSRF refusal, roles, errors as pages,
languages. dpo_requests runs on the real broker and PostgreSQL (module fixture ``dpo``)."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest

from dpo_requests.deadlines import paris_date
from tests.dpo_requests.support import Dpo, unique
from tests.dpo_requests.web.support import browser, csrf_of
from vigie_shared.kit.clock import utcnow

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.broker]

REQUEST_ID = re.compile(r"/pages/(?:dpo/)?requests/(r-[0-9a-f]+)")


async def submit(dpo: Dpo, learner: str, request_type: str, **fields: str) -> str:
    async with browser(dpo, learner, "learner") as b:
        token = await csrf_of(b, "/pages/requests/new")
        sent = await b.post(
            "/pages/requests", data={"csrf": token, "request_type": request_type, **fields}
        )
    assert sent.status_code == 303, sent.text
    found = REQUEST_ID.search(sent.headers["location"])
    assert found
    return found.group(1)


async def test_without_a_session_the_pages_send_to_the_login(dpo: Dpo) -> None:
    async with browser(dpo, None) as b:
        home = await b.get("/pages/")
        mine = await b.get("/pages/requests?x=1")
        root = await b.get("/")
    assert home.status_code == 200
    assert 'href="/pages/login"' in home.text
    assert mine.status_code == 303
    assert mine.headers["location"] == "/pages/login?next=%2Fpages%2Frequests%3Fx%3D1"
    assert root.headers["location"] == "/pages/"


async def test_a_learner_submits_a_request_with_the_form_and_follows_it(dpo: Dpo) -> None:
    learner = unique("u")
    request_id = await submit(dpo, learner, "access", message="Je veux mes notes")
    async with browser(dpo, learner, "learner") as b:
        detail = await b.get(f"/pages/requests/{request_id}?done=submitted")
        listing = await b.get("/pages/requests")
    assert detail.status_code == 200
    assert "Votre demande est enregistrée." in detail.text
    assert "Accès à mes données (art. 15)" in detail.text
    due = await dpo.pool.fetchval("SELECT due_on FROM requests WHERE id = $1", request_id)
    assert due.strftime("%d/%m/%Y") in detail.text
    assert "Comment ce délai est calculé" in detail.text
    assert request_id in listing.text
    assert "Reçue" in listing.text
    row = await dpo.pool.fetchrow(
        "SELECT subject_id, channel FROM requests WHERE id = $1", request_id
    )
    assert row is not None
    assert (row["subject_id"], row["channel"]) == (learner, "online")


async def test_a_rectification_carries_its_corrections_and_an_empty_one_is_refused(
    dpo: Dpo,
) -> None:
    learner = unique("u")
    request_id = await submit(
        dpo,
        learner,
        "rectification",
        field="lastname",
        value="Martin-Durand",
    )
    stored = await dpo.pool.fetchval("SELECT corrections FROM requests WHERE id = $1", request_id)
    assert stored == {"lastname": "Martin-Durand"}
    async with browser(dpo, learner, "learner") as b:
        token = await csrf_of(b, "/pages/requests/new")
        empty = await b.post(
            "/pages/requests", data={"csrf": token, "request_type": "rectification"}
        )
    assert empty.status_code == 422
    assert "text/html" in empty.headers["content-type"]
    assert "Une demande de rectification indique les corrections (RGPD, art. 16)." in empty.text


async def test_a_post_without_the_right_csrf_token_is_refused_and_changes_nothing(
    dpo: Dpo,
) -> None:
    learner = unique("u")
    before = await dpo.pool.fetchval("SELECT count(*) FROM requests WHERE subject_id = $1", learner)
    async with browser(dpo, learner, "learner") as b, browser(dpo, unique("u"), "learner") as o:
        missing = await b.post("/pages/requests", data={"request_type": "access"})
        foreign = await b.post(
            "/pages/requests",
            data={"csrf": await csrf_of(o, "/pages/requests/new"), "request_type": "access"},
        )
    for refused in (missing, foreign):
        assert refused.status_code == 403
        assert "text/html" in refused.headers["content-type"]
        assert "Formulaire expiré" in refused.text
    after = await dpo.pool.fetchval("SELECT count(*) FROM requests WHERE subject_id = $1", learner)
    assert before == after == 0


async def test_a_forged_session_cookie_is_no_session(dpo: Dpo) -> None:
    async with browser(dpo, None) as b:
        b.cookies.set("vigie_dpo_session", "eyJzdWIiOiJ1LWV2aWwiLCJyb2xlcyI6WyJkcG8iXX0.x.y")
        response = await b.get("/pages/dpo")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/pages/login")


async def test_a_learner_is_refused_the_dpo_pages_and_others_requests(dpo: Dpo) -> None:
    owner, other = unique("u"), unique("u")
    request_id = await submit(dpo, owner, "restriction")
    async with browser(dpo, other, "learner") as b:
        dashboard = await b.get("/pages/dpo")
        queue = await b.get("/pages/dpo/queue")
        theirs = await b.get(f"/pages/requests/{request_id}")
        as_dpo = await b.get(f"/pages/dpo/requests/{request_id}")
        missing = await b.get("/pages/requests/r-000000000000")
        export = await b.get("/pages/dpo/register.csv")
        token = await csrf_of(b, "/pages/requests/new")
        withdraw = await b.post(
            f"/pages/requests/{request_id}/withdraw", data={"csrf": token, "confirm": "yes"}
        )
    for refused in (dashboard, queue, as_dpo, export):
        assert refused.status_code == 403
        assert "Accès refusé" in refused.text
    for hidden in (theirs, missing, withdraw):
        assert hidden.status_code == 404
        assert "text/html" in hidden.headers["content-type"]
        assert "n'est pas la vôtre" in html.unescape(hidden.text)
    assert "No request" not in missing.text  # the same words for missing and foreign
    status = await dpo.pool.fetchval("SELECT status FROM requests WHERE id = $1", request_id)
    assert status == "received"
    # The JSON API keeps its problem+json.
    api = await dpo.http.get(f"/requests/{request_id}", headers=dpo.learner(other))
    assert api.status_code == 404
    assert api.headers["content-type"] == "application/problem+json"


async def test_the_dpo_is_not_a_learner_on_the_learner_pages(dpo: Dpo) -> None:
    async with browser(dpo, unique("dpo"), "dpo") as b:
        home = await b.get("/pages/")
        mine = await b.get("/pages/requests")
    assert home.headers["location"] == "/pages/dpo"
    assert mine.status_code == 403


async def test_french_by_default_english_on_request_and_remembered(dpo: Dpo) -> None:
    learner = unique("u")
    async with browser(dpo, learner, "learner") as b:
        french = await b.get("/pages/requests/new")
        english = await b.get("/pages/requests/new?lang=en")
        remembered = await b.get("/pages/requests")
    async with browser(
        dpo, learner, "learner", **{"accept-language": "en-GB,en;q=0.9,fr;q=0.5"}
    ) as b:
        negotiated = await b.get("/pages/requests/new")
    assert '<html lang="fr">' in french.text
    assert "Effacement (art. 17)" in french.text
    assert '<html lang="en">' in english.text
    assert "Erasure (Art. 17)" in english.text
    assert "vigie_dpo_lang=en" in english.headers["set-cookie"]
    assert "My requests" in remembered.text
    assert "Erasure (Art. 17)" in negotiated.text
    assert 'href="/pages/requests/new?lang=fr"' in english.text


async def test_every_form_works_without_javascript_and_is_labelled(dpo: Dpo) -> None:
    """No script anywhere, every form a plain POST with its token, every field labelled."""
    learner = unique("u")
    request_id = await submit(dpo, learner, "access")
    async with browser(dpo, unique("dpo"), "dpo") as d, browser(dpo, learner, "learner") as b:
        pages = [
            await b.get("/pages/requests/new"),
            await b.get(f"/pages/requests/{request_id}"),
            await d.get(f"/pages/dpo/requests/{request_id}"),
            await d.get("/pages/dpo/register-request"),
            await d.get("/pages/dpo"),
        ]
    for page in pages:
        assert page.status_code == 200, page.text
        assert "<script" not in page.text
        assert "script-src" not in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "DENY"
        assert 'class="skip" href="#main"' in page.text
        forms = re.findall(r"<form method=\"(\w+)\"[^>]*>(.*?)</form>", page.text, re.DOTALL)
        for method, body in forms:
            if method == "post":
                assert 'name="csrf"' in body
        ids = set(re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', page.text))
        labelled = set(re.findall(r'<label for="([^"]+)"', page.text))
        assert ids <= labelled, ids - labelled


async def test_the_dpo_acts_on_a_request_each_action_confirmed_and_recorded(dpo: Dpo) -> None:
    learner = unique("u")
    request_id = await submit(dpo, learner, "objection")
    path = f"/pages/dpo/requests/{request_id}"
    async with browser(dpo, unique("dpo"), "dpo") as d:
        token = await csrf_of(d, path)
        unconfirmed = await d.post(f"{path}/extend", data={"csrf": token, "reason": "volume"})
        assert unconfirmed.status_code == 422
        assert "Confirmation manquante" in unconfirmed.text
        extended = await d.post(
            f"{path}/extend",
            data={"csrf": token, "confirm": "yes", "reason": "Nombreux systèmes à interroger"},
        )
        assert extended.status_code == 303
        assert extended.headers["location"] == f"{path}?done=recorded"
        again = await d.get(path)
        assert "Prolonger de deux mois" not in again.text  # once only (Art. 12(3))
        assert "Nombreux systèmes à interroger" in again.text
        twice = await d.post(
            f"{path}/extend", data={"csrf": token, "confirm": "yes", "reason": "encore"}
        )
        assert twice.status_code == 422
        unjustified = await d.post(
            f"{path}/refuse",
            data={"csrf": token, "confirm": "yes", "ground": "excessive", "reason": "trop"},
        )
        assert unjustified.status_code == 422
        assert "12(5)" in unjustified.text
        refused = await d.post(
            f"{path}/refuse",
            data={
                "csrf": token,
                "confirm": "yes",
                "ground": "exemption",
                "reason": "Traitement imposé par le code de l'éducation",
            },
        )
        assert refused.status_code == 303
        closed = await d.get(path)
        late = await d.post(
            f"{path}/verify", data={"csrf": token, "confirm": "yes", "method": "sso"}
        )
    assert "Refusée" in closed.text
    assert "Actions" not in closed.text
    assert late.status_code == 409
    kinds = [
        r["kind"]
        for r in await dpo.pool.fetch(
            "SELECT kind FROM request_timeline WHERE request_id = $1 ORDER BY id", request_id
        )
    ]
    assert kinds == ["received", "extended", "refused"]
    learner_view = await dpo.http.get(f"/requests/{request_id}", headers=dpo.learner(learner))
    assert learner_view.json()["refusal"]["complaint_fr"].startswith("Vous pouvez introduire")


async def test_the_learner_answers_the_identity_question_and_the_clock_restarts(
    dpo: Dpo,
) -> None:
    learner = unique("u")
    request_id = await submit(dpo, learner, "portability")
    async with browser(dpo, unique("dpo"), "dpo") as d:
        path = f"/pages/dpo/requests/{request_id}"
        asked = await d.post(
            f"{path}/identity-request",
            data={
                "csrf": await csrf_of(d, path),
                "confirm": "yes",
                "what": "Votre numéro d'inscription",
            },
        )
        assert asked.status_code == 303
    async with browser(dpo, learner, "learner") as b:
        mine = f"/pages/requests/{request_id}"
        waiting = await b.get(mine)
        assert "Votre numéro d'inscription" in html.unescape(waiting.text)
        assert "Délai suspendu" in waiting.text
        answered = await b.post(
            f"{mine}/identity",
            data={"csrf": await csrf_of(b, mine), "answer": "Inscription 2024-0042"},
        )
        assert answered.status_code == 303
        after = await b.get(answered.headers["location"])
    assert "Votre réponse est transmise" in after.text
    assert "Inscription 2024-0042" in after.text
    row = await dpo.pool.fetchrow("SELECT status, due_on FROM requests WHERE id = $1", request_id)
    assert row is not None
    assert row["status"] == "received"
    assert row["due_on"] is not None
    answer = await dpo.pool.fetchval(
        "SELECT detail FROM request_timeline WHERE request_id = $1 AND kind = 'identity_answer'",
        request_id,
    )
    assert row is not None
    assert answer == {"answer": "Inscription 2024-0042"}


async def test_the_dpo_registers_a_posted_request_with_its_receipt_date(dpo: Dpo) -> None:
    received_on = paris_date(utcnow()) - timedelta(days=10)
    async with browser(dpo, unique("dpo"), "dpo") as d:
        token = await csrf_of(d, "/pages/dpo/register-request")
        form = {
            "csrf": token,
            "confirm": "yes",
            "request_type": "access",
            "requester": "Courrier de Mme Leroy",
            "channel": "post",
            "received_on": received_on.isoformat(),
        }
        created = await d.post("/pages/dpo/register-request", data=form)
        future = await d.post(
            "/pages/dpo/register-request",
            data={**form, "received_on": (received_on + timedelta(days=30)).isoformat()},
        )
        assert created.status_code == 303, created.text
        found = REQUEST_ID.search(created.headers["location"])
        assert found
        detail = await d.get(created.headers["location"])
    assert future.status_code == 422
    assert "Courrier de Mme Leroy" in detail.text
    assert "Courrier postal" in detail.text
    row = await dpo.pool.fetchrow("SELECT * FROM requests WHERE id = $1", found.group(1))
    assert row is not None
    assert paris_date(row["received_at"]) == received_on
    assert row["channel"] == "post"


async def test_the_queue_filters_sorts_by_due_date_and_pages(dpo: Dpo) -> None:
    today = paris_date(utcnow())
    gone = await submit(dpo, unique("u"), "access")
    withdrawn = await dpo.http.post(
        f"/requests/{gone}/withdraw", json={"reason": "plus besoin"}, headers=dpo.officer()
    )
    assert withdrawn.status_code == 200
    async with browser(dpo, unique("dpo"), "dpo") as d:
        token = await csrf_of(d, "/pages/dpo/register-request")
        for days_ago in (40, 5, 20):
            created = await d.post(
                "/pages/dpo/register-request",
                data={
                    "csrf": token,
                    "confirm": "yes",
                    "request_type": "restriction",
                    "requester": f"queue-{days_ago}@example.org",
                    "channel": "email",
                    "received_on": (today - timedelta(days=days_ago)).isoformat(),
                },
            )
            assert created.status_code == 303
        by_due = await d.get("/pages/dpo/queue?type=restriction&sort=due")
        overdue = await d.get("/pages/dpo/queue?type=restriction&overdue=true")
        everything = await d.get("/pages/dpo/queue?status=all&sort=received")
        owed = await d.get("/pages/dpo/queue")
        hostile = await d.get("/pages/dpo/queue", params={"sort": "due_on; DROP TABLE requests"})
    order = re.findall(r"queue-(\d+)@example.org", by_due.text)
    assert order == ["40", "20", "5"]
    assert re.findall(r"queue-(\d+)@example.org", overdue.text) == ["40"]
    assert "en retard" in overdue.text
    total = await dpo.pool.fetchval("SELECT count(*) FROM requests")
    assert f"{total} demande(s)" in everything.text
    still_open = await dpo.pool.fetchval(
        "SELECT count(*) FROM requests"
        " WHERE status IN ('received', 'identity_pending', 'in_progress')"
    )
    assert still_open < total
    assert f"{still_open} demande(s)" in owed.text
    if total > 25:
        assert "page=2" in everything.text
    # A sort is one of the named orders, never text put into the ORDER BY.
    assert hostile.status_code == 422
    assert await dpo.pool.fetchval("SELECT count(*) FROM requests") == total


async def test_the_dashboard_shows_the_counters_charts_and_register_links(dpo: Dpo) -> None:
    async with browser(dpo, unique("dpo"), "dpo") as d:
        page = await d.get("/pages/dpo")
        english = await d.get("/pages/dpo?lang=en")
        csv = await d.get("/pages/dpo/register.csv")
        json_ = await d.get("/pages/dpo/register.json")
    open_total = await dpo.pool.fetchval(
        "SELECT count(*) FROM requests"
        " WHERE status IN ('received', 'identity_pending', 'in_progress')"
    )
    assert re.search(rf'id="open-total">{open_total}<', page.text)
    assert page.text.count("<svg") == 2
    assert 'role="img"' in page.text
    assert "Demandes reçues par mois" in page.text
    assert "Requests received per month" in english.text
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")
    assert json_.json()["count"] == await dpo.pool.fetchval("SELECT count(*) FROM requests")
