"""Make a way in: an admin account on a first start, or a new password for it later.

Without a user the site has no way in, and mail is off by default, so a missed
first-start password has no reset by e-mail: `--reset` (`make admin`) is the way back.
"""

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

BAR = "=" * 64


class Command(BaseCommand):
    help = (
        "Create an admin account with a random password if the site has no user yet; "
        "with --reset, give the admin account a new random password (made if missing)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument(
            "--reset",
            action="store_true",
            help="set a new random password for the account (a superuser), shown once",
        )

    def handle(self, *args, username: str, reset: bool, **options):
        User = get_user_model()
        password = secrets.token_urlsafe(12)
        if reset:
            user = User.objects.filter(username=username).first()
            if user is None:
                User.objects.create_superuser(username=username, email="", password=password)
            else:
                # A superuser again as well: a way back in that cannot open the admin
                # would be none (someone may have removed the flags).
                user.is_active = user.is_staff = user.is_superuser = True
                user.set_password(password)
                user.save()
            title = "New admin password (shown only this once)"
        elif User.objects.exists():
            return
        else:
            User.objects.create_superuser(username=username, email="", password=password)
            title = "First start: created an admin account (shown only this once)"
        self.stdout.write(
            f"{BAR}\n{title}\n"
            f"  username: {username}\n  password: {password}\n"
            f"Sign in at /accounts/login/ and change the password.\n{BAR}"
        )
