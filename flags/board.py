"""What the staff flag board shows of a flag or switch: its rule, its controls, its last change."""

from dataclasses import dataclass, field

import waffle
from django.http import HttpRequest
from waffle import get_waffle_switch_model

from flags import registry
from flags.forms import FLAG_ACTIONS, SWITCH_ACTIONS
from flags.models import FeatureFlag, FlagChange
from flags.rules import describe, flag_rule, switch_rule


@dataclass
class Control:
    action: str
    label: str
    style: str = ""  # a button class: "", "secondary" or "danger"


@dataclass
class Row:
    kind: str
    name: str
    description: str
    contact: str
    rule: str
    on_for_you: bool
    last_change: FlagChange | None
    controls: list[Control] = field(default_factory=list)
    percent: str | None = None  # flags only: the current rollout percentage
    state: str = "partial"  # active, disabled or partial: the badge's colour
    default: bool | None = None  # the registry's default; None: not registered
    missing: bool = False  # registered, but no row yet: off until migrate creates it

    @property
    def dom_id(self) -> str:
        return f"{self.kind}-{self.name}"


def flag_controls(flag: FeatureFlag) -> list[Control]:
    """Only the changes that would change something: on-for-everyone offers no Turn on."""
    controls = []
    if flag.everyone is not True:
        controls.append(Control("on", FLAG_ACTIONS["on"]))
    if flag.everyone is not False:
        controls.append(Control("off", FLAG_ACTIONS["off"], style="secondary"))
    return controls


def flag_row(request: HttpRequest, flag: FeatureFlag, last_change: FlagChange | None) -> Row:
    rule = flag_rule(flag)
    entry = registry.FLAGS_BY_NAME.get(flag.name)
    return Row(
        kind=FlagChange.Kind.FLAG,
        name=flag.name,
        # The registry says what the code does with it; the row's text is a fallback.
        description=entry.description if entry else flag.description or flag.note,
        contact=entry.contact if entry else flag.contact,
        rule=describe(rule),
        # read_only: looking at the board must not draw a visitor's percentage cookie.
        on_for_you=bool(waffle.flag_is_active(request, flag.name, read_only=True)),
        last_change=last_change,
        controls=flag_controls(flag),
        percent=rule["percent"],
        state={True: "active", False: "disabled"}.get(flag.everyone, "partial"),
        default=entry.default if entry else None,
    )


def switch_row(switch, last_change: FlagChange | None) -> Row:
    on = bool(waffle.switch_is_active(switch.name))
    entry = registry.SWITCHES_BY_NAME.get(switch.name)
    return Row(
        kind=FlagChange.Kind.SWITCH,
        name=switch.name,
        description=entry.description if entry else switch.note,
        contact="",
        rule=describe(switch_rule(switch)),
        on_for_you=on,
        last_change=last_change,
        # Switches act on the whole site at once (read_only stops every write).
        controls=[Control("off", SWITCH_ACTIONS["off"])]
        if switch.active
        else [Control("on", SWITCH_ACTIONS["on"], style="danger")],
        state="active" if switch.active else "disabled",
        default=entry.default if entry else None,
    )


def missing_row(kind: str, entry: registry.Flag | registry.Switch) -> Row:
    """A registered name without a row: waffle answers off until migrate creates it."""
    return Row(
        kind=kind,
        name=entry.name,
        description=entry.description,
        contact=getattr(entry, "contact", ""),
        rule="missing: off until migrate creates it",
        on_for_you=False,
        last_change=None,
        state="disabled",
        default=entry.default,
        missing=True,
    )


def with_missing(rows: list[Row], kind: str, entries) -> list[Row]:
    present = {row.name for row in rows}
    missing = [missing_row(kind, entry) for entry in entries if entry.name not in present]
    return sorted(rows + missing, key=lambda row: row.name)


def flags_with_members():
    return FeatureFlag.objects.prefetch_related("groups", "users").order_by("name")


def flag_rows(request: HttpRequest) -> list[Row]:
    last = FlagChange.objects.latest_per_name(FlagChange.Kind.FLAG)
    rows = [flag_row(request, flag, last.get(flag.name)) for flag in flags_with_members()]
    return with_missing(rows, FlagChange.Kind.FLAG, registry.FLAGS)


def switch_rows() -> list[Row]:
    last = FlagChange.objects.latest_per_name(FlagChange.Kind.SWITCH)
    switches = get_waffle_switch_model().objects.order_by("name")
    rows = [switch_row(switch, last.get(switch.name)) for switch in switches]
    return with_missing(rows, FlagChange.Kind.SWITCH, registry.SWITCHES)


def row_for(request: HttpRequest, kind: str, obj) -> Row:
    last = FlagChange.objects.filter(kind=kind, name=obj.name).first()
    if kind == FlagChange.Kind.FLAG:
        return flag_row(request, obj, last)
    return switch_row(obj, last)
