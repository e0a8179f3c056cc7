"""GET /metrics: the operator's token or nothing, Prometheus's text format, and figures that
add up: each short link's answer on both paths, visits, rate-limit refusals, webhooks, the
task queue, and a redirect count scraped from two granian workers that equals what was sent."""

import http.client
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult, get_date_max
from prometheus_client.parser import text_string_to_metric_families

from config.metrics.counting import PUBLISH_SECONDS, group_of
from config.metrics.scrape import exposition, reset
from shortener import links
from shortener.models import Link
from tests.conftest import flush_visits, make_link, make_user, per_day
from tests.servers import granian, statuses

TOKEN = "scrape-" + "t" * 40


@pytest.fixture
def token(settings):
    settings.METRICS_TOKEN = TOKEN
    return TOKEN


def scraped(client: Client) -> dict[tuple[str, tuple], float]:
    """Every sample of an authorised scrape, by name and labels."""
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    return samples_of(response.content.decode())


def samples_of(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def answers(figures, answer: str) -> float:
    return figures.get(("torii_redirects_total", (("answer", answer),)), 0.0)


# --- Who may read them --------------------------------------------------------------


@pytest.mark.django_db
def test_metrics_do_not_exist_without_a_token(client, settings):
    settings.METRICS_TOKEN = ""
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer anything")
    assert response.status_code == 404
    assert b"torii_" not in response.content


@pytest.mark.django_db
@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        f"Basic {TOKEN}",
        TOKEN,
        "Bearer ",
    ],
)
def test_without_the_right_token_the_answer_is_401_and_no_figure(client, token, authorization):
    headers = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
    response = client.get("/metrics", **headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"torii_" not in response.content and b"# TYPE" not in response.content


@pytest.mark.django_db
def test_with_the_token_every_figure_is_in_prometheus_text_format(client, token):
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; version=1.0.0; charset=utf-8"
    assert "no-cache" in response["Cache-Control"]
    families = {family.name for family in text_string_to_metric_families(response.text)}
    for name in (
        "torii_request_duration_seconds",
        "torii_redirects",
        "torii_visits_buffered",
        "torii_visits_written",
        "torii_visits_dropped",
        "torii_visit_flush_duration_seconds",
        "torii_visit_journal_bytes",
        "torii_visit_journal_files",
        "torii_task_queue_depth",
        "torii_task_oldest_age_seconds",
    ):
        assert name in families, name


@pytest.mark.django_db
def test_a_post_to_metrics_is_refused(client, token):
    response = client.post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 405


# --- What is counted ----------------------------------------------------------------


@pytest.mark.django_db
def test_each_answer_on_a_short_links_path_is_counted(client, token):
    owner = make_user("olga")
    live = make_link(owner=owner)
    off = make_link(owner=owner, is_active=False)
    protected = links.edit(
        links.create({"target": "https://secret.example/"}, actor=owner),
        by=owner,
        password="open sesame",
    )
    before = scraped(client)
    assert client.get(f"/{live.slug}").status_code == 302
    assert client.get(f"/{live.slug}").status_code == 302
    assert client.get("/nosuchlink").status_code == 404
    assert client.get(f"/{off.slug}").status_code == 410
    assert client.get(f"/{protected.slug}").status_code == 200  # the password form
    wrong = client.post(f"/{protected.slug}", {"password": "guess", "form_token": "forged"})
    assert wrong.status_code == 403
    after = scraped(client)
    counted = {
        answer: answers(after, answer) - answers(before, answer)
        for answer in ("redirect", "not_found", "gone", "password", "warning")
    }
    assert counted == {"redirect": 2, "not_found": 1, "gone": 1, "password": 2, "warning": 0}
    seconds = ("torii_request_duration_seconds_count", (("group", "redirect"),))
    assert after[seconds] - before.get(seconds, 0) == 6


@pytest.mark.django_db
def test_a_rate_limit_refusal_is_counted_by_its_group(client, token, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "redirect": per_day(2)}
    link = make_link()
    key = ("torii_rate_limit_refusals_total", (("group", "redirect"),))
    before = scraped(client).get(key, 0)
    codes = [client.get(f"/{link.slug}", REMOTE_ADDR="203.0.113.5").status_code for _ in range(4)]
    assert codes == [302, 302, 429, 429]
    after = scraped(client)
    assert after[key] - before == 2
    assert answers(after, "rate_limited") >= 2


@pytest.mark.django_db
def test_visits_buffered_and_written_are_counted(client, token):
    link = make_link()
    flush_visits()
    before = scraped(client)
    for _ in range(3):
        client.get(f"/{link.slug}")
    assert flush_visits() == 3
    after = scraped(client)
    for name in ("torii_visits_buffered_total", "torii_visits_written_total"):
        assert after[(name, ())] - before.get((name, ()), 0) == 3, name
    flushes = ("torii_visit_flush_duration_seconds_count", ())
    assert after[flushes] - before.get(flushes, 0) == 1
    assert Link.objects.get(pk=link.pk).visit_count == 3


@pytest.mark.django_db
def test_a_webhook_for_an_unknown_source_is_counted(client, token):
    key = ("torii_webhooks_received_total", (("outcome", "unknown_source"),))
    before = scraped(client).get(key, 0)
    assert client.post("/webhooks/nobody/", b"{}", content_type="application/json").status_code
    assert scraped(client)[key] - before == 1


@pytest.mark.django_db
@pytest.mark.usefixtures("loopback")
def test_outbound_attempts_are_counted_by_outcome(
    client, token, receiver, django_capture_on_commit_callbacks
):
    from shortener.events.models import Endpoint, new_secret
    from tests import receivers

    answers_given = iter([receivers.answer(204), receivers.answer(404), receivers.answer(503)])
    one = receiver(lambda got, conn, rec: next(answers_given))
    owner = make_user("alice")
    Endpoint.objects.create(owner=owner, url=one.url, secret=new_secret())
    key = "torii_webhook_attempts_total"
    before = scraped(client)
    with django_capture_on_commit_callbacks(execute=True):
        for target in ("https://example.com/a", "https://example.com/b", "https://example.com/c"):
            links.create({"target": target}, actor=owner)
    after = scraped(client)
    counted = {
        outcome: after.get((key, (("outcome", outcome),)), 0)
        - before.get((key, (("outcome", outcome),)), 0)
        for outcome in ("delivered", "failed", "retrying", "refused")
    }
    assert counted == {"delivered": 1, "failed": 1, "retrying": 1, "refused": 0}


@pytest.mark.django_db
def test_a_shared_cache_away_is_counted(settings):
    from config.caches import MissWhileAway

    class Away(MissWhileAway):
        AWAY = (ConnectionError,)

    def unreachable():
        raise ConnectionError("gone")

    key = ("torii_cache_failures_total", (("cache", "default"),))
    settings.METRICS_TOKEN = TOKEN
    before = samples_of(exposition().decode()).get(key, 0)
    assert Away()._or("the default", unreachable) == "the default"
    assert samples_of(exposition().decode())[key] - before == 1


@pytest.mark.django_db
def test_rate_limiting_that_cannot_count_is_a_cache_failure(client, token, settings):
    settings.RATELIMIT_USE_CACHE = "unreachable"  # no such cache: every count fails
    key = ("torii_cache_failures_total", (("cache", "unreachable"),))
    before = samples_of(exposition().decode()).get(key, 0)
    assert client.get("/nosuchlink").status_code == 404  # redirects fail open
    assert samples_of(exposition().decode())[key] - before == 1


@pytest.mark.django_db
def test_the_task_queue_is_read_at_scrape_time(client, token):
    task = DBTaskResult.objects.create(
        args_kwargs={"args": [], "kwargs": {}},
        task_path="shortener.events.delivery.sweep",
        backend_name="default",
        queue_name="default",
        run_after=get_date_max(),  # as soon as possible
    )
    waited = timezone.now() - timedelta(hours=2)
    DBTaskResult.objects.filter(pk=task.pk).update(enqueued_at=waited)
    figures = scraped(client)
    waiting = DBTaskResult.objects.filter(status="READY")
    due = waiting.ready().count()
    assert due >= 1
    assert figures[("torii_task_queue_depth", (("state", "due"),))] == due
    assert figures[("torii_task_queue_depth", (("state", "scheduled"),))] == waiting.count() - due
    assert 7200 <= figures[("torii_task_oldest_age_seconds", ())] < 7300


@pytest.mark.parametrize(
    "path, group",
    [
        ("/abc1234", "redirect"),
        ("/links", "other"),  # a reserved word is no short link
        ("/livez", "other"),
        ("/metrics", "other"),
        ("/static/site.css", "other"),
        ("/admin/", "other"),
        ("/webhooks/github/", "other"),
        ("/api/v1/links/", "api"),
        ("/", "pages"),
        ("/links/", "pages"),
        ("/abc1234+", "pages"),
        ("/accounts/login/", "pages"),
    ],
)
def test_route_groups(path, group):
    assert group_of(path) == group


def test_reset_empties_the_metrics_directory(settings):
    with tempfile.TemporaryDirectory() as directory:
        settings.METRICS_DIR = Path(directory)
        for name in ("counter_1.db", "histogram_1.db", "gauge_all_2.db"):
            (settings.METRICS_DIR / name).write_bytes(b"x")
        (settings.METRICS_DIR / "keep.txt").write_text("not ours")
        call_command("reset_metrics")
        assert sorted(path.name for path in settings.METRICS_DIR.iterdir()) == ["keep.txt"]
        assert reset(settings.METRICS_DIR) == 0


# --- Two granian workers, one sum ---------------------------------------------------


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request("GET", "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        response = connection.getresponse()
        assert response.status == 200
        return samples_of(response.read().decode())
    finally:
        connection.close()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_redirects_counted_by_two_workers_add_up_to_what_was_sent():
    sent = 240
    live = make_link(target="https://example.com/counted")
    off = make_link(target="https://example.com/off", is_active=False)
    with tempfile.TemporaryDirectory(prefix="torii-metrics-") as directory:
        env = {"METRICS_TOKEN": TOKEN, "PROMETHEUS_MULTIPROC_DIR": directory}
        with granian(workers=2, env=env) as url:
            codes = statuses(
                [f"{url}/{live.slug}"] * sent
                + [f"{url}/nosuchlink"] * 5
                + [f"{url}/{off.slug}"] * 3,
                processes=4,
            )
            assert codes.count(302) == sent
            # Each worker hands its counts to its files once a second (PUBLISH_SECONDS).
            deadline = time.monotonic() + 10
            while answers(figures := scrape(url), "redirect") < sent:
                assert time.monotonic() < deadline, answers(figures, "redirect")
                time.sleep(0.2)
            time.sleep(2 * PUBLISH_SECONDS)
            again = scrape(url)
            # Each worker counts into files of its own; the scrape adds them up.
            files = {path.name for path in Path(directory).glob("counter_*.db")}
            assert len(files) >= 2, files
    assert answers(again, "redirect") == answers(figures, "redirect")  # no more than sent
    assert answers(again, "redirect") == sent
    assert answers(again, "not_found") == 5
    assert answers(again, "gone") == 3
    seconds = ("torii_request_duration_seconds_count", (("group", "redirect"),))
    assert again[seconds] == sent + 8
