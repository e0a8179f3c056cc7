"""A token belongs to one user and one workspace (issue 28.4): it lists, creates and reaches
the links of that workspace alone, and stops at once when its user leaves it. Tokens made
before workspaces (none named) act for their user's personal workspace, as before."""

import pytest

from shortener.models import Link
from shortener.tokens import personal as tokens
from shortener.workspaces import members
from tests.api_client import ApiClient
from tests.conftest import make_link, make_user

pytestmark = pytest.mark.django_db
LINKS = "/api/v1/links"


@pytest.fixture
def vera_in_team():
    vera = make_user("vera")
    team = members.create_workspace("Team", by=make_user("olga"))
    membership = team.memberships.create(user=vera, role="editor")
    return vera, team, membership


def slugs(response) -> set[str]:
    return {link["slug"] for link in response.json()["items"]}


def test_a_team_token_sees_creates_and_reaches_only_the_teams_links(client, vera_in_team):
    vera, team, _ = vera_in_team
    theirs = make_link(slug="team-link", owner=vera, workspace=team)
    mine = make_link(slug="vera-own", owner=vera)  # her personal workspace
    api = ApiClient(client, vera, tokens.issue(vera, "team bot", workspace=team)[1])
    assert slugs(api.get(LINKS)) == {theirs.slug}
    assert api.get(f"{LINKS}/{theirs.slug}").status_code == 200
    other = api.get(f"{LINKS}/{mine.slug}")
    assert other.status_code == 404  # another workspace's link does not exist for it
    assert api.patch(f"{LINKS}/{mine.slug}", {"title": "taken"}).status_code == 404
    made = api.post(LINKS, {"target": "https://example.com/made-by-bot"})
    assert made.status_code == 201
    assert Link.objects.get(slug=made.json()["slug"]).workspace == team
    elsewhere = api.get(LINKS, workspace=mine.workspace_id)
    assert elsewhere.status_code == 404 and elsewhere["Content-Type"] == "application/problem+json"
    assert Link.objects.get(pk=mine.pk).title == mine.title  # nothing written


def test_a_token_stops_at_once_when_its_user_leaves_the_workspace(client, vera_in_team):
    vera, team, membership = vera_in_team
    make_link(slug="team-link", owner=vera, workspace=team)
    api = ApiClient(client, vera, tokens.issue(vera, "team bot", workspace=team)[1])
    assert api.get(LINKS).status_code == 200
    members.remove(membership)
    for response in (
        api.get(LINKS),
        api.get(f"{LINKS}/team-link"),
        api.post(LINKS, {"target": "https://example.com/after-leaving"}),
    ):
        assert response.status_code == 403
        assert response.json()["type"].endswith("left-workspace")
        assert "no longer a member" in response.json()["detail"]
    assert not Link.objects.filter(target="https://example.com/after-leaving").exists()
    mine = ApiClient(client, vera, tokens.issue(vera, "own")[1])
    assert mine.get(LINKS).status_code == 200  # her other tokens go on


def test_the_tokens_page_makes_a_token_for_the_chosen_workspace_only_among_hers(
    client, vera_in_team
):
    vera, team, _ = vera_in_team
    stranger = members.create_workspace("Strangers", by=make_user("sam"))
    client.force_login(vera)
    page = client.get("/tokens/").content.decode()
    assert f'value="{team.pk}"' in page and f'value="{stranger.pk}"' not in page
    form = {"name": "bot", "scopes": ["links:read"], "lifetime": "30"}
    refused = client.post("/tokens/", {**form, "workspace": stranger.pk})
    assert refused.status_code == 422
    assert "Choose a workspace you are a member of." in refused.content.decode()
    assert not vera.api_tokens.exists()
    client.post("/tokens/", {**form, "workspace": team.pk})
    assert vera.api_tokens.get().workspace == team
    assert "in Team" in client.get("/tokens/").content.decode()
