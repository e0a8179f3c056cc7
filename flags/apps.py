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
