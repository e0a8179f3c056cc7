"""Manage webhook sources: create, rotate and retire secrets, list, disable, enable."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.text import slugify

from shortener.events.models import SignatureScheme, WebhookSource
from shortener.links import access
from shortener.workspaces.models import Workspace


class Command(BaseCommand):
    help = "Manage webhook sources and their signing secrets."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="a new source; prints its secret once")
        create.add_argument("name")
        create.add_argument("--owner", required=True, help="user who owns the links it creates")
        create.add_argument(
            "--workspace",
            type=int,
            help="the number of the workspace it acts for (the owner must be an editor or "
            "owner there); default: the owner's personal workspace for creates",
        )
        create.add_argument(
            "--scheme", choices=list(SignatureScheme.values), default=SignatureScheme.STANDARD
        )
        for action, text in [
            ("rotate", "add a new secret; the old one keeps working until retire"),
            ("retire", "remove every secret but the newest"),
            ("disable", "refuse its deliveries (404)"),
            ("enable", "accept its deliveries again"),
        ]:
            actions.add_parser(action, help=text).add_argument("name")
        actions.add_parser("list", help="every source, its state and its number of secrets")

    def handle(self, *args, action: str, **options):
        if action == "create":
            return self.create(
                options["name"], options["owner"], options["scheme"], options["workspace"]
            )
        if action == "list":
            return self.list_sources()
        source = self.source(options["name"])
        if action == "rotate":
            secret = source.add_secret()
            self.stdout.write(f"New secret for {source.name} (shown only this once):\n{secret}")
            self.stdout.write(
                f"The old secret keeps working until: webhook_source retire {source.name}"
            )
        elif action == "retire":
            removed = source.retire_old_secrets()
            if not removed:
                raise CommandError(f"{source.name} has only one secret; nothing to retire.")
            self.stdout.write(f"Retired {removed} old secret(s) of {source.name}.")
        else:
            source.enabled = action == "enable"
            source.save(update_fields=["enabled"])
            self.stdout.write(f"{source.name} is {action}d.")
        return None

    def create(self, name: str, username: str, scheme: str, workspace_id: int | None) -> None:
        if slugify(name) != name or not 1 <= len(name) <= 50:
            raise CommandError("A source name is 1 to 50 lower-case letters, digits, - and _.")
        if WebhookSource.objects.filter(name=name).exists():
            raise CommandError(f"A source named {name} exists already.")
        owner = get_user_model().objects.filter(username=username).first()
        if owner is None:
            raise CommandError(f"There is no user named {username}.")
        workspace = None
        if workspace_id is not None:
            workspace = Workspace.objects.filter(pk=workspace_id).first()
            if workspace is None or not access.may_create_in(owner, workspace):
                raise CommandError(
                    f"{username} is not an editor or owner of a workspace numbered {workspace_id}."
                )
        with transaction.atomic():
            source = WebhookSource.objects.create(
                name=name, owner=owner, scheme=scheme, workspace=workspace
            )
            secret = source.add_secret()
        self.stdout.write(f"Created webhook source {name} (owner {username}, {scheme} signatures).")
        self.stdout.write(f"Receiver: POST {source.receiver_path()}")
        self.stdout.write(f"Secret (shown only this once):\n{secret}")

    def list_sources(self) -> None:
        for source in WebhookSource.objects.select_related("owner"):
            state = "enabled" if source.enabled else "disabled"
            count = source.secrets.count()
            self.stdout.write(
                f"{source.name}\t{state}\t{source.scheme}\towner={source.owner.username}"
                f"\tsecrets={count}\t{source.receiver_path()}"
            )

    def source(self, name: str) -> WebhookSource:
        source = WebhookSource.objects.filter(name=name).first()
        if source is None:
            raise CommandError(f"There is no webhook source named {name}.")
        return source
