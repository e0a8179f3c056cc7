"""Make a way in on a first start: an admin account when there is no user at all."""

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create an admin account with a random password if the site has no user yet."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username: str, **options):
        User = get_user_model()
        if User.objects.exists():
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email="", password=password)
        bar = "=" * 64
        self.stdout.write(
            f"{bar}\nFirst start: created an admin account (shown only this once)\n"
            f"  username: {username}\n  password: {password}\n"
            f"Sign in at /accounts/login/ and change the password.\n{bar}"
        )
