"""``.env`` and ``env_file`` parsing as compose-go's dotenv package does it (its parser and fixture cases)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compose.envfile import parse_dotenv, read_env_file
from compose.errors import EnvFileError


@pytest.mark.parametrize(
    ("line", "key", "value"),
    [
        ("FOO=bar", "FOO", "bar"),
        ("FOO =bar", "FOO", "bar"),
        ("FOO= bar", "FOO", "bar"),
        ('FOO="bar"', "FOO", "bar"),
        ("FOO='bar'", "FOO", "bar"),
        (r'FOO="escaped\"bar"', "FOO", 'escaped"bar'),
        (r'FOO="\"quoted\""', "FOO", '"quoted"'),
        ("FOO=\"'d'\"", "FOO", "'d'"),
        ("OPTION_A: 1", "OPTION_A", "1"),
        ("OPTION_A: Foo=bar", "OPTION_A", "Foo=bar"),
        ("OPTION_A=1:B", "OPTION_A", "1:B"),
        ("export OPTION_A=2", "OPTION_A", "2"),
        (r"export OPTION_B='\n'", "OPTION_B", "\\n"),
        ("export exportFoo=2", "exportFoo", "2"),
        ("exportFOO=2", "exportFOO", "2"),
        ("export_FOO =2", "export_FOO", "2"),
        ("export.FOO= 2", "export.FOO", "2"),
        ("export\tOPTION_A=2", "OPTION_A", "2"),
        ("  export OPTION_A=2", "OPTION_A", "2"),
        ('export OPTION_A="export A"', "OPTION_A", "export A"),
        (r'FOO="bar\nbaz"', "FOO", "bar\nbaz"),
        (r"FOO=a\tb", "FOO", r"a\tb"),
        (r'FOO="a\tb"', "FOO", "a\tb"),
        (r'KEY="Z\aZ\bZ\fZ\nZ\rZ\tZ\vZ\\Z\0123Z"', "KEY", "Z\aZ\bZ\fZ\nZ\rZ\tZ\vZ\\ZSZ"),
        ("FOO.BAR=foobar", "FOO.BAR", "foobar"),
        ("FOO=foobar=", "FOO", "foobar="),
        ("FOO=bar ", "FOO", "bar"),
        ("FOO=bar # this is foo", "FOO", "bar"),
        ("FOO=bar #", "FOO", "bar"),
        ("FOO=123#not-an-inline-comment", "FOO", "123#not-an-inline-comment"),
        ('FOO="bar#baz" # comment', "FOO", "bar#baz"),
        ("FOO='bar#baz' # comment", "FOO", "bar#baz"),
        (r'FOO="bar\n\ b\az"', "FOO", "bar\n\\ b\az"),
        (r'FOO="bar\\\n\ b\az"', "FOO", "bar\\\n\\ b\az"),
        (r'FOO="bar\\r\ b\az"', "FOO", "bar\\r\\ b\az"),
        (r'FOO="bar\nbaz\\"', "FOO", "bar\nbaz\\"),
        (" KEY =value", "KEY", "value"),
        ("\tKEY=value", "KEY", "value"),
        (r'KEY="\0123"', "KEY", "S"),
        (r'KEY="\x07"', "KEY", r"\x07"),
        (r'KEY="\u12e4"', "KEY", r"\u12e4"),
        (r"KEY=\$HOME", "KEY", "\\"),  # unquoted: no escapes, $HOME substituted (unset here)
        (r'KEY="\$HOME"', "KEY", "$HOME"),
        ("KEY=$$HOME", "KEY", "$HOME"),
        ("KEY='$HOME'", "KEY", "$HOME"),
    ],
)
def test_lines_like_compose_go(line: str, key: str, value: str) -> None:
    assert parse_dotenv(line) == {key: value}


def test_quoted_fixture() -> None:
    text = (
        "OPTION_A='1'\nOPTION_C=''\nOPTION_D='\\n'\nOPTION_G=\"\"\nOPTION_H=\"\\n\"\n"
        "OPTION_I = \"echo 'asd'\" # Inline comment\n"
        "OPTION_J = 'first line\nsecond line\nthird line\nand so on'\n"
        "OPTION_K='Let\\'s go!'\n"
        "# a comment\n\n"
        'OPTION_Z = "last value"\n'
    )
    assert parse_dotenv(text) == {
        "OPTION_A": "1",
        "OPTION_C": "",
        "OPTION_D": "\\n",
        "OPTION_G": "",
        "OPTION_H": "\n",
        "OPTION_I": "echo 'asd'",
        "OPTION_J": "first line\nsecond line\nthird line\nand so on",
        "OPTION_K": "Let's go!",
        "OPTION_Z": "last value",
    }


def test_substitutions_from_the_file_then_the_lookup_first() -> None:
    text = "OPTION_A=1\nOPTION_B=${OPTION_A}\nOPTION_C=$OPTION_B\n"
    text += "OPTION_D=${OPTION_A}_${OPTION_B}\nOPTION_E=${NOPE}\n"
    assert parse_dotenv(text) == {
        "OPTION_A": "1",
        "OPTION_B": "1",
        "OPTION_C": "1",
        "OPTION_D": "1_1",
        "OPTION_E": "",
    }
    # a variable the caller has wins over the one the file set above (compose-go's lookup order)
    got = parse_dotenv("OPTION_A=${OPTION_A:-1}\nOPTION_B=${OPTION_A}\n", {"OPTION_A": "os"}.get)
    assert got == {"OPTION_A": "os", "OPTION_B": "os"}


def test_bare_keys_inherit_from_the_lookup() -> None:
    text = "foo=bar\nFROM_OS\nNOT_THERE\nbar=baz"
    assert parse_dotenv(text, {"FROM_OS": "yes"}.get) == {"foo": "bar", "FROM_OS": "yes", "bar": "baz"}


def test_errors_name_the_line() -> None:
    with pytest.raises(EnvFileError, match='line 2: unexpected character "\'" in variable name'):
        parse_dotenv("A=1\nB'C=2\n")
    # the line count has passed the newline inside the quotes, as compose-go's has
    with pytest.raises(EnvFileError, match="line 2: unterminated quoted value"):
        parse_dotenv('A="open\n')
    with pytest.raises(EnvFileError, match="key cannot contain a space"):
        parse_dotenv("A B=1")


def test_read_env_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "app.env"
    # compose-go drops keys starting with a digit only in dotenv.Read, which compose does not use
    path.write_text("\ufeffA=1\n1ST=2\nexport C='x'\nD=${A}${C}\n")
    assert read_env_file(path) == {"A": "1", "1ST": "2", "C": "x", "D": "1x"}
    into = {"A": "before"}
    assert read_env_file(path, {"A": "lookup"}.get, into) is into
    assert into == {"A": "1", "1ST": "2", "C": "x", "D": "lookupx"}
    path.write_text('A="x\n')
    with pytest.raises(EnvFileError, match=f"failed to read {path}: line 2: unterminated"):
        read_env_file(path)
    with pytest.raises(EnvFileError, match="couldn't find env file"):
        read_env_file(tmp_path / "missing.env")


keys = st.text(alphabet="ABCxyz_.-019", min_size=1, max_size=8).filter(lambda k: not k[0].isdigit())
safe = st.text(
    alphabet=st.characters(blacklist_categories=["Cs", "Cc", "Zl", "Zp"], blacklist_characters="\\'\x85\xa0"),
    max_size=30,
)


@settings(deadline=None)
@given(st.dictionaries(keys, safe, max_size=6))
def test_single_quoted_values_round_trip(env: dict[str, str]) -> None:
    text = "".join(f"{k}='{v}'\n" for k, v in env.items())
    assert parse_dotenv(text) == env


@settings(deadline=None)
@given(
    st.dictionaries(
        keys,
        safe.map(lambda v: v.strip()).filter(lambda v: "#" not in v and "$" not in v and v[:1] not in "'\""),
        max_size=6,
    )
)
def test_unquoted_values_round_trip(env: dict[str, str]) -> None:
    text = "\n".join(f"export {k}={v}" for k, v in env.items())
    assert parse_dotenv(text) == env
