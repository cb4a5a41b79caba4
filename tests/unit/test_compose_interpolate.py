"""Variable substitution as compose-go's template package does it (its template_test.go cases), and the
typed casts at the paths compose types."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compose.errors import InterpolationError
from compose.interpolate import TemplateError, interpolate, substitute

DEFAULTS = {"FOO": "first", "BAR": "", "JSON": '{"json":2}'}


def lookup(name: str) -> str | None:
    return DEFAULTS.get(name)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("$${foo}", "${foo}"),
        ("foo", "foo"),
        ("a $ string", "a $ string"),
        ("^REGEX$", "^REGEX$"),
        ("$}", "$}"),
        ("$", "$"),
        ("$FOO-bar", "first-bar"),
        ("This ${missing} var", "This  var"),
        ("This ${BAR} var", "This  var"),
        ("This $FOO var", "This first var"),
        ("This ${FOO} var", "This first var"),
        ("ok ${missing:-def}", "ok def"),
        ("ok ${missing-def}", "ok def"),
        ("${A:+${A},}B", "B"),
        ("${A:-${B}}", ""),
        ("ok ${BAR:-def}", "ok def"),
        ("ok ${FOO:-def}", "ok first"),
        ("ok ${BAR-def}", "ok "),
        ("ok ${UNSET_VAR:+presence_value}", "ok "),
        ("ok ${UNSET_VAR+presence_value}", "ok "),
        ("ok ${FOO:+presence_value}", "ok presence_value"),
        ("ok ${FOO+presence_value}", "ok presence_value"),
        ("ok ${BAR+presence_value}", "ok presence_value"),
        ("ok ${BAR:+presence_value}", "ok "),
        ("ok ${BAR:-/non:-alphanumeric}", "ok /non:-alphanumeric"),
        ("-ok ${BAR:-defaultValue}", "-ok defaultValue"),
        ("+ok ${UNSET:-${BAR-defaultValue}}", "+ok "),
        (":-ok ${UNSET-defaultValue}", ":-ok defaultValue"),
        (":?ok ${BAR:-defaultValue}", ":?ok defaultValue"),
        ("ok ${UNSET_VAR-$FOO}", "ok first"),
        ("ok ${UNSET_VAR-${FOO}}", "ok first"),
        ("ok ${UNSET_VAR-${FOO} ${FOO}}", "ok first first"),
        ("ok ${BAR:-${FOO} ${FOO}}", "ok first first"),
        ("ok ${BAR+$FOO ${FOO:+second}}", "ok first second"),
        ("${UNSET_VAR-myerror?msg}", "myerror?msg"),
        ("${FOO?bar-baz}", "first"),
        ('ok ${missing:-{"json":1}}', 'ok {"json":1}'),
        ('ok ${JSON:-{"json":1}}', 'ok {"json":2}'),
        ("ok ${SUBDOMAIN:-redis}.${FOO:?}", "ok redis.first"),
        ("${FOO}${FOO}-$FOO.$$FOO", "firstfirst-first.$FOO"),
    ],
)
def test_substitute_like_compose_go(template: str, expected: str) -> None:
    assert substitute(template, lookup) == expected


@pytest.mark.parametrize("template", ["${", "${}", "${ }", "${ foo}", "${foo }", "${foo!}"])
def test_invalid_templates(template: str) -> None:
    with pytest.raises(TemplateError) as err:
        substitute(template, lookup)
    assert err.value.invalid


MISSING = "required variable {} is missing a value"
UNSET = MISSING.format("UNSET_VAR")


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("not ok ${UNSET_VAR:?Mandatory Variable Unset}", UNSET + ": Mandatory Variable Unset"),
        ("not ok ${BAR:?Mandatory Variable Empty}", MISSING.format("BAR") + ": Mandatory Variable Empty"),
        ("not ok ${UNSET_VAR:?}", "required variable UNSET_VAR is missing a value"),
        ("not ok ${UNSET_VAR?Mandatory Variable Unset}", UNSET + ": Mandatory Variable Unset"),
        ("not ok ${UNSET_VAR?}", "required variable UNSET_VAR is missing a value"),
        ("${UNSET_VAR?bar-baz}", "required variable UNSET_VAR is missing a value: bar-baz"),
    ],
)  # fmt: skip
def test_required_variables(template: str, message: str) -> None:
    with pytest.raises(TemplateError, match="^" + message.replace("?", r"\?") + "$"):
        substitute(template, lookup)


def test_required_but_empty_is_fine_without_colon() -> None:
    assert substitute("${BAR?must be set}", lookup) == ""


def test_warns_for_unset_variables_only_when_used() -> None:
    warnings: list[str] = []
    assert substitute("${A:+${A},}B", lookup, warnings.append) == "B"
    assert warnings == []
    substitute("x ${NOPE} y", lookup, warnings.append)
    assert warnings == ['The "NOPE" variable is not set. Defaulting to a blank string.']


def test_interpolate_document_values_not_keys_and_casts() -> None:
    env = {"PORT": "80", "RO": "true", "N": "3", "NAME": "web", "KEY": "k"}
    doc = {
        "services": {
            "${NAME}": {
                "image": "busybox:${TAG:-latest}",
                "read_only": "${RO}",
                "ports": [{"target": "${PORT}"}, "${PORT}:${PORT}"],
                "deploy": {"replicas": "${N}"},
                "environment": {"${KEY}": "$$HOME"},
            }
        },
        "volumes": {"v": {"external": "yes"}},
    }
    out = interpolate(doc, env.get)
    svc = out["services"]["${NAME}"]
    assert svc["image"] == "busybox:latest"
    assert svc["read_only"] is True
    assert svc["ports"] == [{"target": 80}, "80:80"]
    assert svc["deploy"]["replicas"] == 3
    assert svc["environment"] == {"${KEY}": "$HOME"}
    assert out["volumes"]["v"]["external"] is True


def test_interpolation_errors_name_the_path() -> None:
    doc = {"services": {"web": {"image": "x", "command": ["a", "${TOKEN:?set TOKEN first}"]}}}
    with pytest.raises(InterpolationError) as err:
        interpolate(doc, lambda _: None)
    assert str(err.value) == (
        "error while interpolating services.web.command.1: "
        "required variable TOKEN is missing a value: set TOKEN first"
    )
    assert err.value.exit_code == 1
    with pytest.raises(InterpolationError, match=r"invalid interpolation format for services\.web\.image"):
        interpolate({"services": {"web": {"image": "a${"}}}, lambda _: None)
    with pytest.raises(InterpolationError, match="failed to cast to expected type: invalid boolean: maybe"):
        interpolate({"services": {"web": {"tty": "${X:-maybe}"}}}, lambda _: None)


names = st.text(alphabet="ABCxyz_09", min_size=1, max_size=6).filter(lambda n: not n[0].isdigit())
# Go's `.` (like Python's) does not match a newline: a default spanning lines is not a substitution in compose
values = st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\n"), max_size=20)


@settings(deadline=None)
@given(st.text(alphabet=st.characters(blacklist_characters="$", blacklist_categories=["Cs"])))
def test_a_string_without_dollar_is_unchanged(text: str) -> None:
    assert substitute(text, lambda _: "X") == text


@settings(deadline=None)
@given(values)
def test_doubled_dollars_round_trip(text: str) -> None:
    assert substitute(text.replace("$", "$$"), lambda _: "X") == text


@settings(deadline=None)
@given(st.dictionaries(names, values, max_size=5), names, values)
def test_operators_follow_their_rules(env: dict[str, str], name: str, default: str) -> None:
    dflt = default.replace("$", "$$").replace("}", "")
    plain = default.replace("}", "")
    value = env.get(name)
    assert substitute(f"${{{name}}}", env.get) == (value or "")
    assert substitute(f"${name}", env.get) == (value or "")
    assert substitute(f"${{{name}:-{dflt}}}", env.get) == (value if value else plain)
    assert substitute(f"${{{name}-{dflt}}}", env.get) == (value if value is not None else plain)
    assert substitute(f"${{{name}:+{dflt}}}", env.get) == (plain if value else (value or ""))
    assert substitute(f"${{{name}+{dflt}}}", env.get) == (plain if value is not None else "")
    if value:
        assert substitute(f"${{{name}:?boom}}", env.get) == value
    else:
        with pytest.raises(TemplateError, match=f"required variable {name} is missing a value: boom"):
            substitute(f"${{{name}:?boom}}", env.get)


@settings(deadline=None)
@given(st.dictionaries(names, values, max_size=5), names, names)
def test_nested_defaults(env: dict[str, str], outer: str, inner: str) -> None:
    got = substitute(f"${{{outer}:-${{{inner}:-none}}}}", env.get)
    expected = env.get(outer) or env.get(inner) or "none"
    assert got == expected
