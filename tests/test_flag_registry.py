"""Flag and switch names live in one registry; code that asks for any other name fails here.

The scan reads every .py under config/, shortener/ and flags/ and every template, finds
each name asked of waffle (string literals, module constants, `{% flag "x" %}` tags),
and fails listing any name flags/registry.py does not hold.
"""

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import waffle
from django.contrib.auth.models import AnonymousUser
from django.core.management import call_command
from waffle import get_waffle_flag_model, get_waffle_switch_model

from flags import registry
from flags.apps import check_registry, create_registered
from tests.conftest import ROOT, make_user

PY_DIRS = ("config", "shortener", "flags")
# Calls whose name argument is a flag or a switch, and which argument holds it.
FLAG_CALLS = {"flag_is_active": 1, "override_flag": 0}
SWITCH_CALLS = {"switch_is_active": 0, "override_switch": 0}
SAMPLE_CALLS = {"sample_is_active": 0}
TAG = re.compile(r"{%\s*(flag|switch|sample)\s+(\S+)")
# Calls that pass a name only known at run time, each with the reason it is fine.
DYNAMIC = {
    ("flags/board.py", "flag.name"): "asks about each row the board shows",
    ("flags/board.py", "switch.name"): "asks about each row the board shows",
}


@dataclass(frozen=True)
class Ask:
    kind: str  # flag, switch or sample
    name: str | None  # None: not a literal nor a constant of the module
    where: str  # path:line
    source: str  # the argument as written


def module_constants(tree: ast.Module) -> dict[str, str]:
    constants = {}
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Constant):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                    constants[target.id] = node.value.value
    return constants


def imported_constants(tree: ast.Module, constants_of) -> dict[str, str]:
    """`from config.read_only import READ_ONLY_SWITCH`: the constant from that module."""
    found = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module:
            theirs = constants_of(node.module)
            for alias in node.names:
                if alias.name in theirs:
                    found[alias.asname or alias.name] = theirs[alias.name]
    return found


def constants_in_project(module: str) -> dict[str, str]:
    path = ROOT / Path(*module.split("."))
    path = path.with_suffix(".py") if path.with_suffix(".py").exists() else path / "__init__.py"
    if not path.exists():
        return {}
    return module_constants(ast.parse(path.read_text()))


def asks_in_python(source: str, where: str, constants_of=constants_in_project) -> list[Ask]:
    tree = ast.parse(source)
    constants = imported_constants(tree, constants_of) | module_constants(tree)
    # `from waffle import flag_is_active as on`: `on(...)` is still asking waffle.
    aliases = {
        alias.asname: alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if alias.asname
    }
    asks = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        called = aliases.get(called, called)
        for kind, calls in (
            ("flag", FLAG_CALLS),
            ("switch", SWITCH_CALLS),
            ("sample", SAMPLE_CALLS),
        ):
            if called not in calls:
                continue
            position = calls[called]
            arg = node.args[position] if len(node.args) > position else None
            if arg is None:
                arg = next(
                    (kw.value for kw in node.keywords if kw.arg in ("name", "flag_name")), None
                )
            if arg is None:
                continue
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                name = arg.value
            elif isinstance(arg, ast.Name):
                name = constants.get(arg.id)
            else:
                name = None
            asks.append(Ask(kind, name, f"{where}:{node.lineno}", ast.unparse(arg)))
    return asks


def asks_in_template(source: str, where: str) -> list[Ask]:
    asks = []
    for match in TAG.finditer(source):
        kind, arg = match.groups()
        line = source.count("\n", 0, match.start()) + 1
        quoted = re.fullmatch(r"""(["'])([^"']+)\1""", arg)
        asks.append(Ask(kind, quoted[2] if quoted else None, f"{where}:{line}", arg))
    return asks


def unregistered(asks: list[Ask]) -> list[str]:
    registered = {"flag": registry.FLAGS_BY_NAME, "switch": registry.SWITCHES_BY_NAME}
    problems = []
    for ask in asks:
        path = ask.where.rsplit(":", 1)[0]
        if ask.name is None:
            if (path, ask.source) not in DYNAMIC:
                problems.append(f"{ask.where}: {ask.kind} name {ask.source} is not a known name")
        elif ask.name not in registered.get(ask.kind, {}):
            problems.append(f"{ask.where}: {ask.kind} {ask.name!r} is not registered")
    return problems


def project_asks() -> list[Ask]:
    asks = []
    for folder in PY_DIRS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            where = str(path.relative_to(ROOT))
            asks += asks_in_python(path.read_text(), where)
    templates = {*ROOT.glob("templates/**/*.html"), *ROOT.glob("*/templates/**/*.html")}
    for path in sorted(templates):
        asks += asks_in_template(path.read_text(), str(path.relative_to(ROOT)))
    return asks


# --- the scan ---


def test_every_flag_and_switch_the_code_and_templates_ask_for_is_registered():
    assert unregistered(project_asks()) == []


def test_the_scan_finds_the_names_torii_asks_for_today():
    # If the scan found nothing it would pass for the wrong reason.
    found = {(ask.kind, ask.name) for ask in project_asks()}
    for flag in registry.FLAGS:
        assert ("flag", flag.name) in found, flag.name
    assert ("switch", "read_only") in found  # READ_ONLY_SWITCH and the webhook worker's literal


PY_TYPO = """
import waffle
from waffle import flag_is_active
from waffle import sample_is_active as sampled

API = "api_v2"


def view(request):
    if flag_is_active(request, "custom_slug"):
        pass
    if waffle.switch_is_active("readonly"):
        pass
    if waffle.flag_is_active(request, API):
        pass
    if flag_is_active(request, name_from_somewhere):
        pass
    if sampled("half"):
        pass
    return flag_is_active(request, "qr_codes")
"""


def test_the_scan_fails_on_a_typo_in_python_naming_each_one():
    problems = unregistered(asks_in_python(PY_TYPO, "shortener/typo.py"))
    assert problems == [
        "shortener/typo.py:10: flag 'custom_slug' is not registered",
        "shortener/typo.py:12: switch 'readonly' is not registered",
        "shortener/typo.py:14: flag 'api_v2' is not registered",
        "shortener/typo.py:16: flag name name_from_somewhere is not a known name",
        "shortener/typo.py:18: sample 'half' is not registered",
    ]


def test_the_scan_follows_a_constant_imported_from_another_module():
    source = "from config.read_only import SWITCH as S\nswitch_is_active(S)\n"
    asks = asks_in_python(source, "x.py", constants_of=lambda module: {"SWITCH": "read_onyl"})
    assert unregistered(asks) == ["x.py:2: switch 'read_onyl' is not registered"]


def test_the_scan_fails_on_a_typo_in_a_template():
    source = (
        '{% load waffle_tags %}\n{% flag "api_v1" %}ok{% endflag %}\n'
        "{% flag 'link_analytic' %}x{% endflag %}\n{% switch read_only %}{% endswitch %}\n"
    )
    assert unregistered(asks_in_template(source, "templates/typo.html")) == [
        "templates/typo.html:3: flag 'link_analytic' is not registered",
        "templates/typo.html:4: switch name read_only is not a known name",
    ]


# --- the registry and the rows agree ---


def test_the_registry_passes_its_system_check():
    assert check_registry() == []


def test_the_system_check_catches_a_flag_registered_twice_or_without_a_description(monkeypatch):
    flag = registry.Flag("qr_codes", True, "", "")
    monkeypatch.setattr(registry, "FLAGS", (*registry.FLAGS, flag))
    assert [error.id for error in check_registry()] == ["flags.E001", "flags.E002"]


@pytest.mark.django_db
def test_every_registered_flag_has_a_row_with_its_default_description_and_contact():
    rows = {flag.name: flag for flag in get_waffle_flag_model().objects.all()}
    for entry in registry.FLAGS:
        row = rows[entry.name]
        assert (row.everyone, row.description, row.contact, row.superusers) == (
            entry.default,
            entry.description,
            entry.contact,
            False,
        )


@pytest.mark.django_db
def test_every_registered_switch_has_a_row_with_its_default_and_description():
    rows = {switch.name: switch for switch in get_waffle_switch_model().objects.all()}
    for entry in registry.SWITCHES:
        assert (rows[entry.name].active, rows[entry.name].note) == (
            entry.default,
            entry.description,
        )


@pytest.mark.django_db
def test_migrate_adds_a_newly_registered_flag_and_leaves_changed_rows_alone(monkeypatch):
    get_waffle_flag_model().objects.filter(name="qr_codes").update(everyone=False)
    new = registry.Flag("short_qr", True, "A shorter QR code.", "links team")
    monkeypatch.setattr(registry, "FLAGS", (*registry.FLAGS, new))
    call_command("migrate", verbosity=0)
    assert get_waffle_flag_model().objects.get(name="short_qr").everyone is True
    assert get_waffle_flag_model().objects.get(name="qr_codes").everyone is False


@pytest.mark.django_db
def test_a_new_row_is_seen_at_once_although_waffle_cached_its_absence(rf, monkeypatch):
    new = registry.Flag("short_qr", True, "A shorter QR code.", "links team")
    monkeypatch.setattr(registry, "FLAGS", (*registry.FLAGS, new))
    monkeypatch.setattr(registry, "FLAGS_BY_NAME", {**registry.FLAGS_BY_NAME, new.name: new})
    request = rf.get("/")
    request.user = AnonymousUser()
    assert waffle.flag_is_active(request, "short_qr") is False  # no row yet: cached as missing
    from django.apps import apps

    create_registered(sender=None, apps=apps)
    assert waffle.flag_is_active(request, "short_qr") is True


# --- an unregistered name is loud ---


@pytest.mark.django_db
def test_asking_waffle_for_an_unregistered_flag_raises_and_creates_nothing(rf):
    request = rf.get("/")
    request.user = AnonymousUser()
    with pytest.raises(
        registry.UnregisteredName, match=r"'custom_slug' is not in flags/registry\.py"
    ):
        waffle.flag_is_active(request, "custom_slug")
    assert not get_waffle_flag_model().objects.filter(name="custom_slug").exists()


@pytest.mark.django_db
def test_in_production_an_unregistered_flag_is_off_logged_and_not_created(rf, settings, caplog):
    settings.FLAGS_STRICT_NAMES = False
    request = rf.get("/")
    request.user = AnonymousUser()
    assert waffle.flag_is_active(request, "custom_slug") is False
    assert "custom_slug is not registered" in caplog.text
    assert not get_waffle_flag_model().objects.filter(name="custom_slug").exists()


# --- the board says what the registry says ---


@pytest.fixture
def staff_client(client):
    client.force_login(make_user("ops", is_staff=True))
    return client


@pytest.mark.django_db
def test_the_board_shows_each_registered_description_contact_and_default(staff_client):
    page = staff_client.get("/flags/").content.decode()
    for flag in registry.FLAGS:
        assert flag.description.replace("'", "&#x27;") in page, flag.name
        assert f"Ask: {flag.contact}" in page
    assert registry.SWITCHES_BY_NAME["read_only"].description in page
    assert page.count("Default: on") == 3  # qr_codes, link_analytics, api_v1
    assert page.count("Default: off") == 5  # four flags and read_only


@pytest.mark.django_db
def test_the_board_shows_a_registered_flag_without_a_row_and_a_row_nobody_registered(
    staff_client,
):
    get_waffle_flag_model().objects.filter(name="open_signup").delete()
    get_waffle_flag_model().objects.create(name="old_experiment", description="Gone.")
    page = staff_client.get("/flags/").content.decode()
    row = page[page.index('id="flag-open_signup"') :]
    row = row[: row.index("</tr>")]
    assert "missing: off until migrate creates it" in row
    assert "manage.py migrate" in row and "<form" not in row
    old = page[page.index('id="flag-old_experiment"') :]
    assert "Not in the registry: no code asks for it." in old[: old.index("</tr>")]


# --- waffle's migrations, which we keep copies of ---


def test_every_migration_waffle_ships_has_its_copy_and_the_copies_differ_only_where_noted():
    """MIGRATION_MODULES sends waffle to flags/waffle_migrations: a migration a new waffle
    brings would never run. The system check says so; the copies stay waffle's own."""
    from pathlib import Path

    import waffle.migrations

    from flags import apps, waffle_migrations

    assert apps.waffle_migrations_lacking() == []
    assert apps.check_waffle_migrations() == []
    ours = Path(waffle_migrations.__file__).parent
    for theirs in sorted(Path(waffle.migrations.__file__).parent.glob("0*.py")):

        def code(path: Path) -> list[str]:  # comments and blank lines aside
            lines = path.read_text().splitlines()
            return [line for line in lines if line.strip() and not line.startswith("#")]

        copy = [line for line in code(ours / theirs.name) if "'swappable'" not in line]
        assert copy == code(theirs), theirs.name


def test_a_waffle_migration_without_a_copy_stops_every_command(monkeypatch, tmp_path):
    import waffle.migrations

    from flags import apps

    new = tmp_path / "waffle_migrations"
    new.mkdir()
    (new / "0005_something_new.py").write_text("")
    monkeypatch.setattr(waffle.migrations, "__path__", [*waffle.migrations.__path__, str(new)])
    (error,) = apps.check_waffle_migrations()
    assert error.id == "flags.E003" and error.is_serious()
    assert "0005_something_new" in error.msg and "would never run" in error.msg
