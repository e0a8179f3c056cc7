"""Signal receivers that feed the audit trail from every path: admin, the board, code.

pre_* receivers remember the rule as it is in the database; post_* receivers compare
it with the rule now and hand real changes to `audit.record()`.
"""

from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete, pre_save
from waffle import get_waffle_switch_model

from flags import audit
from flags.models import FeatureFlag, FlagChange
from flags.rules import flag_rule, switch_rule

Switch = get_waffle_switch_model()
RULES = {
    FeatureFlag: (FlagChange.Kind.FLAG, flag_rule),
    Switch: (FlagChange.Kind.SWITCH, switch_rule),
}
MEMBER_ACTIONS = {"pre_add", "pre_remove", "pre_clear", "post_add", "post_remove", "post_clear"}


def rule_in_database(model, pk):
    if pk is None:
        return None
    _kind, rule = RULES[model]
    stored = model.objects.filter(pk=pk).first()
    return None if stored is None else rule(stored)


def remember_rule(sender, instance, **kwargs):
    if kwargs.get("raw"):
        return
    instance._rule_before = rule_in_database(sender, instance.pk)


def record_save(sender, instance, created, raw=False, **kwargs):
    if raw:  # loaddata: fixtures are not changes anybody made
        return
    kind, rule = RULES[sender]
    before = None if created else getattr(instance, "_rule_before", None)
    audit.record(kind, instance.pk, instance.name, before, rule(instance))


def record_delete(sender, instance, **kwargs):
    kind, _rule = RULES[sender]
    audit.record(kind, instance.pk, instance.name, getattr(instance, "_rule_before", None), None)


def record_members(sender, instance, action, reverse, model, pk_set, **kwargs):
    """A flag's groups or users changed, from either side (flag.users.add, user.featureflag_set)."""
    if action not in MEMBER_ACTIONS:
        return
    if action.startswith("pre_"):
        if not reverse:
            flags = [instance]
        elif pk_set is not None:
            flags = list(FeatureFlag.objects.filter(pk__in=pk_set))
        else:  # clearing a group's or user's flags: every flag they belong to
            field = "groups" if sender is FeatureFlag.groups.through else "users"
            flags = list(FeatureFlag.objects.filter(**{field: instance}))
        instance._flag_rules_before = {flag.pk: flag_rule(flag) for flag in flags if flag.pk}
        return
    for pk, before in getattr(instance, "_flag_rules_before", {}).items():
        flag = FeatureFlag.objects.get(pk=pk)
        audit.record(FlagChange.Kind.FLAG, pk, flag.name, before, flag_rule(flag))
    instance._flag_rules_before = {}


def connect() -> None:
    for model in RULES:
        pre_save.connect(remember_rule, sender=model, dispatch_uid=f"flags-pre-save-{model}")
        post_save.connect(record_save, sender=model, dispatch_uid=f"flags-post-save-{model}")
        pre_delete.connect(remember_rule, sender=model, dispatch_uid=f"flags-pre-del-{model}")
        post_delete.connect(record_delete, sender=model, dispatch_uid=f"flags-post-del-{model}")
    for through in (FeatureFlag.groups.through, FeatureFlag.users.through):
        m2m_changed.connect(record_members, sender=through, dispatch_uid=f"flags-m2m-{through}")
