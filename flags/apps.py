from django.apps import AppConfig
from django.apps import apps as global_apps
from django.core import checks
from django.db.models.signals import post_migrate


class FlagsConfig(AppConfig):
    name = "flags"
    verbose_name = "Feature flags"

    def ready(self) -> None:
        from flags import signals

        signals.connect()
        checks.register(check_registry)
        checks.register(check_waffle_migrations)
        post_migrate.connect(create_registered, sender=self, dispatch_uid="flags-create-registered")


def check_registry(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """The registry names each flag and switch once, with what it gates and (flags) whom to ask."""
    from flags import registry

    errors = []
    for kind, entries in (("flag", registry.FLAGS), ("switch", registry.SWITCHES)):
        seen = set()
        for entry in entries:
            if entry.name in seen:
                errors.append(
                    checks.Error(f"The {kind} {entry.name!r} is registered twice.", id="flags.E001")
                )
            seen.add(entry.name)
            if not entry.description or (kind == "flag" and not entry.contact):
                errors.append(
                    checks.Error(
                        f"The {kind} {entry.name!r} needs a description"
                        + (" and a contact." if kind == "flag" else "."),
                        obj="flags/registry.py",
                        id="flags.E002",
                    )
                )
    return errors


def waffle_migrations_lacking() -> list[str]:
    """Migrations django-waffle ships that flags/waffle_migrations has no copy of."""
    import pkgutil

    import waffle.migrations

    from flags import waffle_migrations

    def names(package) -> set[str]:
        return {m.name for m in pkgutil.iter_modules(package.__path__) if m.name[:4].isdigit()}

    return sorted(names(waffle.migrations) - names(waffle_migrations))


def check_waffle_migrations(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """MIGRATION_MODULES points waffle at our copies of its migrations (the swappable
    Flag, docs/design-decisions.md): a migration a new waffle brings would never run,
    silently. Every command that checks (migrate, runserver, check) stops on it."""
    return [
        checks.Error(
            f"django-waffle ships the migration {name}, which flags/waffle_migrations/ "
            "lacks: MIGRATION_MODULES sends waffle there, so it would never run.",
            hint="Copy it from waffle/migrations/ (see flags/waffle_migrations/0001_initial.py).",
            obj="flags/waffle_migrations",
            id="flags.E003",
        )
        for name in waffle_migrations_lacking()
    ]


def create_registered(sender, apps=global_apps, using="default", **kwargs) -> None:
    """After every migrate: rows for names registered since the install (existing rows kept).

    Like Django's own permissions, rows the code declares follow the code, so adding a
    flag to the registry needs no migration of its own. The historical models from the
    migration state are used, as create_permissions does; flush (emptying the database,
    as transactional tests do) passes none, and gets the rows back with the real ones.
    """
    from waffle import get_waffle_flag_model, get_waffle_switch_model

    from flags import registry

    try:
        feature_flag = apps.get_model("flags", "FeatureFlag")
        switch = apps.get_model("waffle", "Switch")
    except LookupError:  # migrated back to before the tables exist
        return
    created = registry.create_missing(feature_flag, switch, using)
    # Waffle may have cached "no such row" for a name before it existed.
    for name in created:
        model = (
            get_waffle_flag_model() if name in registry.FLAGS_BY_NAME else get_waffle_switch_model()
        )
        model(name=name).flush()
