"""The worked signing examples in docs/webhooks.md run as written, and the receiver
accepts what they make: a doc a sender copies from must be one that works."""

import base64
import re
from pathlib import Path

import pytest
from django.urls import reverse

from shortener.models import WebhookEvent
from tests.webhook_delivery import make_source

DOC = Path(__file__).resolve().parent.parent / "docs" / "webhooks.md"


def block(name: str) -> str:
    """The doc's fenced code block tagged ```python <name>."""
    found = re.search(rf"```python {name}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert found, f"docs/webhooks.md has no block {name}"
    return found.group(1)


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["webhook-signing-hmac", "webhook-signing-library"])
def test_the_docs_signing_example_is_accepted(client, monkeypatch, name):
    source = make_source("cms")
    monkeypatch.setenv("TORII_WEBHOOK_SECRET", source.secret)
    made: dict = {}
    exec(compile(block(name), f"docs/webhooks.md:{name}", "exec"), made)
    wsgi_headers = {
        "HTTP_" + key.upper().replace("-", "_"): value
        for key, value in made["headers"].items()
        if key.lower() != "content-type"
    }
    response = client.post(
        reverse("webhook-receive", kwargs={"source": "cms"}),
        made["body"],
        content_type=made["headers"]["Content-Type"],
        **wsgi_headers,
    )
    assert response.status_code == 202, response.content
    assert response.json() == {"id": made["msg_id"], "status": "pending"}
    assert WebhookEvent.objects.get().delivery_id == made["msg_id"]


@pytest.mark.django_db
def test_signing_with_the_whole_whsec_string_is_the_401_the_doc_warns_of(client, monkeypatch):
    source = make_source("cms")
    # The mistake: the prefixed string as the key (here: decoding a key that is it).
    wrong = "whsec_" + base64.b64encode(source.secret.encode()).decode()
    monkeypatch.setenv("TORII_WEBHOOK_SECRET", wrong)
    made: dict = {}
    exec(compile(block("webhook-signing-hmac"), "docs", "exec"), made)
    response = client.post(
        reverse("webhook-receive", kwargs={"source": "cms"}),
        made["body"],
        content_type="application/json",
        HTTP_WEBHOOK_ID=made["headers"]["webhook-id"],
        HTTP_WEBHOOK_TIMESTAMP=made["headers"]["webhook-timestamp"],
        HTTP_WEBHOOK_SIGNATURE=made["headers"]["webhook-signature"],
    )
    assert response.status_code == 401
    assert response.json()["detail"] == "No signature matches."
    assert not WebhookEvent.objects.exists()
