"""Worker processes agree on flag state: waffle caches in the shared cache and saves flush it."""

import os
import subprocess
import sys

import pytest
from waffle import get_waffle_flag_model

from tests.conftest import ROOT, test_database_url

READ_FLAG = """
import os, sys, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory
import waffle
request = RequestFactory().get("/")
request.user = AnonymousUser()
print("on" if waffle.flag_is_active(request, sys.argv[1]) else "off")
"""


def flag_seen_by_another_process(name: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", READ_FLAG, name],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": test_database_url()},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


@pytest.mark.django_db(transaction=True)
def test_a_flag_flip_reaches_other_processes_through_the_shared_cache():
    flag = get_waffle_flag_model().objects.create(name="demo", everyone=False)
    assert flag_seen_by_another_process("demo") == "off"  # now cached as off

    flag.everyone = True
    flag.save()  # waffle flushes the shared cache keys
    assert flag_seen_by_another_process("demo") == "on"
    assert flag_seen_by_another_process("demo") == "on"
