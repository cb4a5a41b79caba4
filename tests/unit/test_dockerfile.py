"""The Dockerfile parser, the shell-word lexer and the config changes metadata instructions make."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.build.changes import MetaState, apply_instruction, workdir_join
from core.build.dockerfile import DockerfileError, parse, parse_duration, parse_words, split_stages
from core.build.shell import ShellError, ShellLexer


def one(text: str):  # type: ignore[no-untyped-def]
    df = parse(text)
    assert len(df.instructions) == 1, df.instructions
    return df.instructions[0]


# ------------------------------------------------------------------------------------------ parsing


def test_instructions_forms_and_lines() -> None:
    df = parse(
        "# a comment\n"
        "FROM busybox AS Build\n"
        "\n"
        'RUN ["echo", "exec form"]\n'
        "run echo shell form \\\n"
        "  # a comment inside a continuation\n"
        "    and more\n"
        "COPY --chown=1:2 --chmod=755 a b /dest/\n"
        'CMD ["not", json\n'
        "ENV A=1 B=\"two words\" C='x'\n"
        "ENV OLD form with spaces\n"
    )
    cmds = [(i.cmd, i.line) for i in df.instructions]
    assert cmds == [("from", 2), ("run", 4), ("run", 5), ("copy", 8), ("cmd", 9), ("env", 10), ("env", 11)]
    run_exec, run_shell = df.instructions[1], df.instructions[2]
    assert run_exec.json and run_exec.args == ["echo", "exec form"]
    assert not run_shell.json and run_shell.args == ["echo shell form     and more"]
    copy = df.instructions[3]
    assert copy.flags == {"chown": ["1:2"], "chmod": ["755"]} and copy.args == ["a", "b", "/dest/"]
    assert not df.instructions[4].json  # invalid JSON falls back to the shell form, as BuildKit
    assert df.instructions[5].args == ["A=1", 'B="two words"', "C='x'"]
    assert df.instructions[6].args == ["OLD=form with spaces"]
    _global, stages = split_stages(df)
    assert stages[0].name == "build" and len(stages[0].instructions) == 6


def test_directives_only_at_the_top_and_escape() -> None:
    df = parse("# syntax=docker/dockerfile:1\n# escape=`\nFROM x\nRUN echo a `\n  b\n")
    assert df.syntax == "docker/dockerfile:1" and df.escape == "`"
    assert df.instructions[1].args == ["echo a   b"]
    # after a blank line it is only a comment: the backslash stays the escape character
    df = parse("\n# escape=`\nFROM x\nRUN echo a \\\n b\n")
    assert df.escape == "\\" and df.instructions[1].args == ["echo a  b"]
    with pytest.raises(DockerfileError, match="only one escape"):
        parse("# escape=`\n# escape=\\\nFROM x\n")
    with pytest.raises(DockerfileError, match="invalid escape"):
        parse("# escape=x\nFROM x\n")


def test_errors_name_file_line_and_instruction() -> None:
    with pytest.raises(DockerfileError, match=r"^Dockerfile:3: COPY: COPY requires at least two"):
        parse("FROM x\nRUN true\nCOPY onlyone\n")
    with pytest.raises(DockerfileError, match=r"^dockerfile parse error line 2: unknown instruction: FOO$"):
        parse("FROM x\nFOO bar\n")
    with pytest.raises(DockerfileError, match=r"Dockerfile:2: ENV: Syntax error - can't find ="):
        parse("FROM x\nENV A=1 B\n")
    with pytest.raises(DockerfileError, match=r"Dockerfile:2: COPY: unknown flag: --bogus"):
        parse("FROM x\nCOPY --bogus=1 a b\n")
    with pytest.raises(DockerfileError, match=r"my.Dockerfile:1: SHELL: SHELL requires the arguments"):
        parse("SHELL /bin/bash -c\n", filename="my.Dockerfile")
    with pytest.raises(DockerfileError, match="no build stage"):
        split_stages(parse("RUN true\nFROM x\n"))
    with pytest.raises(DockerfileError, match="duplicate stage name"):
        split_stages(parse("FROM x AS a\nFROM y AS A\n"))
    with pytest.raises(DockerfileError, match="either one or three"):
        parse("FROM x y\n")
    with pytest.raises(DockerfileError, match="no FROM"):
        split_stages(parse("ARG A=1\n"))


def test_heredocs() -> None:
    df = parse(
        "FROM x\nRUN <<EOF\necho one\necho two\nEOF\nCOPY <<-'END' /f\n\tliteral $X\n\tEND\nRUN true\n"
    )
    run, copy, last = df.instructions[1:]
    assert run.heredocs[0].name == "EOF" and run.heredocs[0].content == "echo one\necho two\n"
    assert run.heredocs[0].expand
    assert copy.heredocs[0].content == "literal $X\n" and not copy.heredocs[0].expand
    assert last.line == 9
    with pytest.raises(DockerfileError, match="unterminated heredoc"):
        parse("FROM x\nRUN <<EOF\necho\n")


def test_onbuild_healthcheck_and_durations() -> None:
    ob = one("ONBUILD RUN echo hi")
    assert ob.trigger is not None and ob.trigger.cmd == "run" and ob.args == ["RUN echo hi"]
    with pytest.raises(DockerfileError, match="isn't allowed as an ONBUILD trigger"):
        parse("ONBUILD FROM x\n")
    hc = one("HEALTHCHECK --interval=1m30s --retries=3 CMD curl -f http://localhost/")
    assert hc.args == ["CMD-SHELL", "curl -f http://localhost/"]
    assert one('HEALTHCHECK CMD ["true"]').args == ["CMD", "true"]
    assert one("HEALTHCHECK NONE").args == ["NONE"]
    assert parse_duration("1m30s") == 90 * 10**9 and parse_duration("1.5h") == 5400 * 10**9
    assert parse_duration("0") == 0 and parse_duration("100ms") == 10**8
    for bad in ("10", "1x", "-1s", "500us"):
        with pytest.raises(DockerfileError):
            parse_duration(bad)


def test_parse_words_keeps_quotes_for_the_lexer() -> None:
    assert parse_words("a=\"b c\" d='e f' g=h\\ i", "\\") == ['a="b c"', "d='e f'", "g=h\\ i"]


# ------------------------------------------------------------------------------------------ the lexer


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("$A", "1"),
        ("${A}x", "1x"),
        ("'$A'", "$A"),
        ('"$A $B"', "1 two words"),
        ("\\$A", "$A"),
        ('"\\$A \\"q\\" \\n"', '$A "q" \\n'),
        ("${UNSET:-def}", "def"),
        ("${EMPTY:-def}", "def"),
        ("${EMPTY-def}", ""),
        ("${A:+alt}", "alt"),
        ("${UNSET:+alt}", ""),
        ("${P#*/}", "b/c.tar.gz"),
        ("${P##*/}", "c.tar.gz"),
        ("${P%.*}", "a/b/c.tar"),
        ("${P%%.*}", "a/b/c"),
        ("${P/b/X}", "a/X/c.tar.gz"),
        ("$1x", "x"),
        ("a$", "a$"),
        ("${A}${UNSET}", "1"),
    ],
)
def test_lexer_word(word: str, expected: str) -> None:
    env = {"A": "1", "B": "two words", "EMPTY": "", "P": "a/b/c.tar.gz"}
    assert ShellLexer().process_word(word, env) == expected


def test_lexer_words_and_errors() -> None:
    lex = ShellLexer()
    assert lex.process_words('80 $PORTS "a b"', {"PORTS": "443 8080"}) == ["80", "443", "8080", "a b"]
    for bad in ("'open", '"open', "${A", "${}", "${A:x}"):
        with pytest.raises(ShellError):
            lex.process_word(bad, {"A": "1"})
    with pytest.raises(ShellError, match="REQ: must be set"):
        lex.process_word("${REQ:?must be set}", {})
    assert ShellLexer("`").process_word("a`$b", {}) == "a$b"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_characters="$'\"\\`", blacklist_categories=("Cs",))))
def test_lexer_leaves_plain_text_alone(text: str) -> None:
    assert ShellLexer().process_word(text, {"A": "x"}) == text


# ------------------------------------------------------------------------------------------ config changes


def test_metadata_instructions_change_the_config() -> None:
    cfg: dict = {"config": {"Env": ["PATH=/bin"], "Cmd": ["sh"]}}  # type: ignore[type-arg]
    state = MetaState()
    env = {"V": "7"}
    df = parse(
        "ENV A=$V PATH=/usr/bin:$PATH\n"
        "LABEL k=v 'x y'=z\n"
        "EXPOSE 80 8000-8001/udp\n"
        'VOLUME ["/data"]\n'
        "WORKDIR app\n"
        "WORKDIR sub\n"
        "USER 1000:1000\n"
        "STOPSIGNAL SIGINT\n"
        'SHELL ["/bin/bash", "-c"]\n'
        "ENTRYPOINT exec me\n"
        "HEALTHCHECK --interval=30s CMD true\n"
        "ONBUILD RUN echo later\n"
    )
    texts = []
    for instr in df.instructions:
        env_now = {**env, **dict(e.split("=", 1) for e in cfg["config"].get("Env", []))}
        texts.append(apply_instruction(cfg, instr, env_now, state=state))
    c = cfg["config"]
    assert c["Env"] == ["PATH=/usr/bin:/bin", "A=7"]
    assert c["Labels"] == {"k": "v", "x y": "z"}
    assert c["ExposedPorts"] == {"80/tcp": {}, "8000/udp": {}, "8001/udp": {}}
    assert c["Volumes"] == {"/data": {}}
    assert c["WorkingDir"] == "/app/sub"
    assert c["User"] == "1000:1000" and c["StopSignal"] == "SIGINT"
    assert c["Entrypoint"] == ["/bin/bash", "-c", "exec me"]
    assert "Cmd" not in c  # ENTRYPOINT drops the inherited CMD
    assert c["Healthcheck"] == {"Test": ["CMD-SHELL", "true"], "Interval": 30 * 10**9}
    assert c["OnBuild"] == ["RUN echo later"]
    assert texts[0] == "ENV A=7 PATH=/usr/bin:/bin"
    # a CMD in the same stage survives a later ENTRYPOINT
    cfg2: dict = {"config": {}}  # type: ignore[type-arg]
    st2 = MetaState()
    for instr in parse('CMD ["a"]\nENTRYPOINT ["b"]\n').instructions:
        apply_instruction(cfg2, instr, {}, state=st2)
    assert cfg2["config"] == {"Cmd": ["a"], "Entrypoint": ["b"]}
    with pytest.raises(DockerfileError, match="invalid port"):
        apply_instruction({}, one("EXPOSE eighty"), {})
    with pytest.raises(DockerfileError, match="invalid signal"):
        apply_instruction({}, one("STOPSIGNAL SIGNOPE"), {})


def test_workdir_join() -> None:
    assert workdir_join("/", "a/b/") == "/a/b"
    assert workdir_join("/a", "../../c") == "/c"
    assert workdir_join("/a", "/x") == "/x"
