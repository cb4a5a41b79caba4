"""tui.gotemplate: Go's text/template as the docker CLI runs it (docker's functions, Go's fmt and value
formatting), and tui.output's use of it (tabwriter, tables with docker's titles, inspect's typed-then-raw
evaluation).

Every expected string here was produced by the docker CLI 28.2 (Go 1.24's text/template) on this machine,
``docker version -f TEMPLATE``, whose data is the versionInfo struct mirrored by ``VERSION`` below; the
error messages were read from it over a reference dockerd. ``test_against_docker_cli`` replays the
templates through the docker CLI when it is installed (no daemon needed: the CLI evaluates templates
itself), and the property tests compare Go's formatting of generated values the same way."""

# ruff: noqa: E501  (the templates and Go's messages are kept whole, as docker prints them)
from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui.gotemplate import (
    GoNil,
    HeaderMap,
    RowContext,
    StrMap,
    Struct,
    TemplateError,
    format_value,
    header_funcs,
    parse,
    to_json,
    truth,
)
from tui.output import FormatError, format_rows, print_inspected, tabwrite, typed_document

CLIENT = {
    "Version": "28.2.2",
    "ApiVersion": "1.50",
    "DefaultAPIVersion": "1.50",
    "GitCommit": "e6534b4",
    "GoVersion": "go1.24.3",
    "Os": "linux",
    "Arch": "amd64",
    "BuildTime": "Fri May 30 12:07:14 2025",
    "Context": "default",
}


def version_info() -> Struct:
    return Struct({"Client": Struct(CLIENT, "system.clientVersion"), "Server": None}, "system.versionInfo")


def run(text: str, data: object = None, **kw: object) -> str:
    return parse(text, "version").execute(version_info() if data is None else data, **kw)  # type: ignore[arg-type]


# (template, what docker's Go prints) — each construct once at least
GO_CASES = [
    ("{{.Client.Version}}", "28.2.2"),
    ("{{$x := 1}}{{$x = 2}}{{$x}}", "2"),
    ('{{range split "a,b,c" ","}}{{if eq . "b"}}{{continue}}{{end}}{{.}}{{end}}', "ac"),
    ('{{range $i, $v := split "a,b,c" ","}}{{$i}}={{$v}} {{end}}', "0=a 1=b 2=c "),
    ('{{range $i, $v := split "a,b,c" ","}}{{if ge $i 1}}{{break}}{{end}}{{$v}}{{end}}', "a"),
    ('{{range split "" ","}}x{{else}}empty{{end}}', "x"),
    ("{{range 3}}{{.}}{{end}}", "012"),
    ("{{with .Client}}{{.Os}}{{end}}", "linux"),
    ('{{with ""}}x{{else}}none{{end}}', "none"),
    ('{{with ""}}x{{else with "y"}}{{.}}{{end}}', "y"),
    ("{{if eq 1 2}}a{{else if eq 1 1}}b{{else}}c{{end}}", "b"),
    ('{{define "T"}}[{{.}}]{{end}}{{template "T" "x"}}{{template "T"}}', "[x][<no value>]"),
    ('{{block "B" "z"}}<{{.}}>{{end}}', "<z>"),
    ("{{/* comment */}}a  {{- /* trimmed */ -}}  b", "ab"),
    ('a  {{- "x" -}}  b', "axb"),
    ("{{-3}} {{- 3}}", "-33"),
    ('{{and 1 0 2}} {{and 1 2}} {{or 0 "" 3}} {{or 0 ""}} {{not 0}} {{not "a"}}', "0 2 3  true false"),
    (
        '{{eq 1 1 2}} {{eq 1 2 3}} {{ne 1 2}} {{lt 1 2}} {{le 2 2}} {{gt "b" "a"}} {{ge 1.5 2.5}}',
        "true false true true true true false",
    ),
    ('{{len "héllo"}} {{len (split "a,b" ",")}}', "6 2"),
    ('{{index "abc" 1}} {{index (split "a,b" ",") 1}}', "98 b"),
    ('{{slice "abcdef" 1 3}} {{slice "abcdef" 2}} {{slice (split "a,b,c" ",") 1}}', "bc cdef [b c]"),
    ('{{print 1 2 "a" "b" 3 true nil}}', "1 2ab3 true <nil>"),
    ('{{println 1 "a" 2.5}}', "1 a 2.5\n"),
    (
        '{{printf "%s|%5s|%-5s|%.2s|%q|%x|%X|% x" "hi" "hi" "hi" "hello" "a\\"b" "hi" "hi" "hi"}}',
        'hi|   hi|hi   |he|"a\\"b"|6869|6869|68 69',
    ),
    (
        '{{printf "%d|%5d|%-5d|%05d|%+d|%x|%X|%o|%O|%b|%c|%q|%U|%#x|%#o" 42 42 42 42 42 255 255 8 8 5 65 65 65 255 8}}',
        "42|   42|42   |00042|+42|ff|FF|10|0o10|101|A|'A'|U+0041|0xff|010",
    ),
    (
        '{{printf "%v|%f|%.2f|%8.3f|%e|%E|%g|%G|%.3g|%+.1f" 3.14159 3.14159 3.14159 3.14159 314159.0 314159.0 3.14159 1e21 3.14159 2.0}}',
        "3.14159|3.141590|3.14|   3.142|3.141590e+05|3.141590E+05|3.14159|1E+21|3.14|+2.0",
    ),
    (
        '{{printf "%v %v %v %v %v %v %v %v" 1e6 1e5 123456789.0 0.0001 0.00001 1e21 1e20 100.0}}',
        "1e+06 100000 1.23456789e+08 0.0001 1e-05 1e+21 1e+20 100",
    ),
    ('{{printf "%t|%v|%t" true false 1}}', "true|false|%!t(int=1)"),
    ('{{printf "%d %s" 1}}', "1 %!s(MISSING)"),
    ('{{printf "%d" "a"}}', "%!d(string=a)"),
    ('{{printf "%s" 1 2}}', "%!s(int=1)%!(EXTRA int=2)"),
    ('{{printf "%z" 1}}', "%!z(int=1)"),
    ('{{printf "100%%"}}', "100%"),
    ('{{printf "%*d|%-*d|%.*f" 5 1 5 1 2 3.14159}}', "    1|1    |3.14"),
    (
        '{{printf "%v|%s|%d" (split "a,b" ",") (split "a,b" ",") (split "a,b" ",")}}',
        "[a b]|[a b]|[%!d(string=a) %!d(string=b)]",
    ),
    ('{{printf "%T %T %T %T %T" 1 1.5 "a" true (split "a" ",")}}', "int float64 string bool []string"),
    ('{{printf "%v" nil}} {{printf "%s" nil}}', "<nil> %!s(<nil>)"),
    (
        '{{printf "%6.2v|%-8v|%08.3f|% d|%+q" 3.14159 "ab" -3.14159 5 "é"}}',
        '   3.1|ab      |-003.142| 5|"\\u00e9"',
    ),
    ('{{printf "%x %X %x" -255 "é" 3.5}}', "-ff C3A9 0x1.cp+01"),
    ("{{printf \"%U %#U\" 0x1F600 'a'}}", "U+1F600 U+0061 'a'"),
    (
        '{{html "<a href=\'x\'>&\\"</a>"}}|{{js "a\'b\\"c<d>&=\\\\"}}|{{urlquery "a b&c=d/é"}}',
        "&lt;a href=&#39;x&#39;&gt;&amp;&#34;&lt;/a&gt;|a\\'b\\\"c\\u003Cd\\u003E\\u0026\\u003D\\\\|a+b%26c%3Dd%2F%C3%A9",
    ),
    ('{{html nil}}|{{js 1 2}}|{{urlquery "a" "b"}}', "&lt;no value&gt;|1 2|ab"),
    (
        "{{json .Client}}",
        '{"Version":"28.2.2","ApiVersion":"1.50","DefaultAPIVersion":"1.50","GitCommit":"e6534b4","GoVersion":"go1.24.3","Os":"linux","Arch":"amd64","BuildTime":"Fri May 30 12:07:14 2025","Context":"default"}',
    ),
    (
        '{{json "a<b>&"}} {{json 1.5}} {{json 1e21}} {{json 100.0}} {{json (split "a,b" ",")}} {{json true}} {{json nil}}',
        '"a<b>&" 1.5 1e+21 100 ["a","b"] true null',
    ),
    ('{{split "a,b,,c" ","}} {{split "abc" ""}} {{join (split "a,b" ",") "-"}}', "[a b  c] [a b c] a-b"),
    (
        '{{title "hello wORLD foo-bar a_b"}} {{lower "HeLLo"}} {{upper "héllo"}}',
        "Hello WORLD Foo-Bar A_b hello HÉLLO",
    ),
    (
        '{{pad "x" 2 3}}|{{pad "" 2 3}}|{{truncate "abcdef" 3}}|{{truncate "ab" 3}}|{{truncate "abc" 3}}',
        "  x   ||abc|ab|abc",
    ),
    ('{{.Client.Os | upper | printf "%s!"}}', "LINUX!"),
    ('{{"x" | printf "%s-%s" "y"}}', "y-x"),
    ("{{(.Client).Os}}", "linux"),
    (
        "{{'a'}} {{'\\n'}} {{0x1F}} {{0o17}} {{0b101}} {{1_000}} {{1.5e3}} {{.5}} {{-.5}} {{0x1p4}}",
        "97 10 31 15 5 1000 1500 0.5 -0.5 16",
    ),
    ('{{"\\x41\\u00e9\\101"}} {{`raw\\n`}}', "AéA raw\\n"),
    ("{{$.Client.Os}}", "linux"),
    ('{{with $x := "v"}}{{$x}}{{end}}', "v"),
    ("{{if $x := 0}}yes{{else}}{{$x}}{{end}}", "0"),
    ('{{true}} {{false}} {{"s"}} {{1.0}} {{1}}', "true false s 1 1"),
    ('{{$x := "a"}}{{range split "1,2" ","}}{{$x}}{{$x = .}}{{end}}{{$x}}', "a12"),
    ('a\n{{- "b" }}\nc', "ab\nc"),
    ('{{ "x" -}}\n  y', "xy"),
    ("x{{- 1 -}}y{{- /* c */ -}}z", "x1yz"),
    ('{{printf "%.0f %.0f %.0f %.1f" 0.5 1.5 2.5 0.05}}', "0 2 2 0.1"),
    ('{{printf "%e %.0e %E" 0.0 5.0 1e-10}}', "0.000000e+00 5e+00 1.000000E-10"),
    (
        '{{printf "%g %g %g %g %.4g" 1e-5 1e-4 123456.0 1234567.0 123456.0}}',
        "1e-05 0.0001 123456 1.234567e+06 1.235e+05",
    ),
    ('{{printf "%10.3e|%-10.2g|%+g" 1234.5678 1234.5678 1.0}}', " 1.235e+03|1.2e+03   |+1"),
    ('{{printf "%#v %#v %#v" "a" 1 1.5}}', '"a" 1 1.5'),
    (
        '{{printf "%q" (split "a,b" ",")}} {{printf "%x" (split "ab,cd" ",")}} {{printf "%5v|%-5v|" (split "a,b" ",") true}}',
        '["a" "b"] [6162 6364] [    a     b]|true |',
    ),
    (
        '{{printf "%v" 1e100}} {{printf "%v" 1.7976931348623157e308}} {{printf "%v" 5e-324}}',
        "1e+100 1.7976931348623157e+308 5e-324",
    ),
    (
        '{{printf "%v %v" 0.1 0.30000000000000004}} {{printf "%d %d" 9223372036854775807 -9223372036854775808}}',
        "0.1 0.30000000000000004 9223372036854775807 -9223372036854775808",
    ),
    ('{{and 0 (index (split "a" ",") 5)}} {{or 1 (index (split "a" ",") 5)}}', "0 1"),
    ('{{js "\\u2028é\\x01"}} {{html "\\x00"}}', "\\u2028é\\u0001 �"),
    ('{{title "ñandú éste"}} {{title "x"}} {{title ""}}', "Ñandú Éste X "),
    (
        '{{split "a" "a"}} {{len (split "" ",")}} {{split "aXbXc" "X"}} {{json (split "" ",")}}',
        '[ ] 1 [a b c] [""]',
    ),
]


@pytest.mark.parametrize(("text", "expected"), GO_CASES)
def test_constructs_as_go(text: str, expected: str) -> None:
    assert run(text) == expected


# (template, Go's parse error): docker prints "template parsing error: " before it and exits 64 (inspect,
# version, info) or 1 (the list commands)
PARSE_ERRORS = [
    ("{{.A", "template: version:1: unclosed action"),
    ("{{end}}", "template: version:1: unexpected {{end}}"),
    ("{{else}}", "template: version:1: unexpected {{else}}"),
    ("{{foo .ID}}", 'template: version:1: function "foo" not defined'),
    ("{{if}}", "template: version:1: missing value for if"),
    ("{{range .Client}}", "template: version:1: unexpected EOF"),
    ("{{1 | 2}}", "template: version:1: non executable command in pipeline stage 2"),
    ("{{}}", "template: version:1: missing value for command"),
    ("{{$x}}", 'template: version:1: undefined variable "$x"'),
    ("{{break}}", "template: version:1: {{break}} outside {{range}}"),
    ("{{/* unclosed", "template: version:1: unclosed comment"),
    ('{{"unterminated}}', "template: version:1: unterminated quoted string"),
    ("{{3x}}", 'template: version:1: bad number syntax: "3x"'),
    ('{{(upper "a"}}', "template: version:1: unclosed left paren"),
    ('{{upper "a")}}', "template: version:1: unexpected right paren"),
    ('{{"a".X}}', 'template: version:1: unexpected . after term "\\"a\\""'),
    ("{{if 1}}a{{else}}b{{else}}c{{end}}", "template: version:1: expected end; found {{else}}"),
    ("{{$x, $y := 1}}", "template: version:1: too many declarations in command"),
    ("a\n\n{{.A", "template: version:3: unclosed action"),
]


@pytest.mark.parametrize(("text", "message"), PARSE_ERRORS)
def test_parse_errors_as_go(text: str, message: str) -> None:
    with pytest.raises(TemplateError) as err:
        parse(text, "version")
    assert str(err.value) == message


# (template, Go's execution error), read from the docker CLI over a daemon
EXEC_ERRORS = [
    ("{{.Nope}}", 'template: version:1:2: executing "version" at <.Nope>: can\'t evaluate field Nope in type system.versionInfo'),
    ("{{.Client.Nope}}", 'template: version:1:9: executing "version" at <.Client.Nope>: can\'t evaluate field Nope in type system.clientVersion'),
    ("{{.Client.Version.X}}", 'template: version:1:9: executing "version" at <.Client.Version.X>: can\'t evaluate field X in type string'),
    ("{{$y = 2}}", 'template: version:1:7: executing "version" at <2>: undefined variable: $y'),
    ('{{template "nope"}}', 'template: version:1:11: executing "version" at <{{template "nope"}}>: template "nope" not defined'),
    ("{{and}}", 'template: version:1:2: executing "version" at <and>: wrong number of args for and: want at least 1 got 0'),
    ('{{eq 1 "a"}}', 'template: version:1:2: executing "version" at <eq 1 "a">: error calling eq: incompatible types for comparison'),
    ("{{lt true false}}", 'template: version:1:2: executing "version" at <lt true false>: error calling lt: invalid type for comparison'),
    ("{{eq 1 1.0}}", 'template: version:1:2: executing "version" at <eq 1 1.0>: error calling eq: incompatible types for comparison'),
    ("{{ne 1}}", 'template: version:1:2: executing "version" at <ne>: wrong number of args for ne: want 2 got 1'),
    ("{{len 3}}", 'template: version:1:2: executing "version" at <len 3>: error calling len: len of type int'),
    ('{{index (split "a,b" ",") 5}}', 'template: version:1:2: executing "version" at <index (split "a,b" ",") 5>: error calling index: index out of range: 5'),
    ('{{index (split "a,b" ",") "x"}}', 'template: version:1:2: executing "version" at <index (split "a,b" ",") "x">: error calling index: cannot index slice/array with type string'),
    ("{{index 3 1}}", 'template: version:1:2: executing "version" at <index 3 1>: error calling index: can\'t index item of type int'),
    ('{{slice "abc" 2 1}}', 'template: version:1:2: executing "version" at <slice "abc" 2 1>: error calling slice: invalid slice index: 2 > 1'),
    ("{{printf 5}}", 'template: version:1:9: executing "version" at <5>: expected string; found 5'),
    ('{{join "ab" ","}}', 'template: version:1:7: executing "version" at <"ab">: can\'t handle "ab" for arg of type []string'),
    ("{{upper .Client}}", 'template: version:1:8: executing "version" at <.Client>: wrong type for value; expected string; got system.clientVersion'),
    ('{{pad "x" "a" 1}}', 'template: version:1:10: executing "version" at <"a">: expected integer; found "a"'),
    ('{{truncate "abc" 1.5}}', 'template: version:1:17: executing "version" at <1.5>: expected integer; found 1.5'),
    ('{{upper "a" "b"}}', 'template: version:1:2: executing "version" at <upper>: wrong number of args for upper: want 1 got 2'),
    ('{{(split "a,b" ",").X}}', 'template: version:1:15: executing "version" at <",">: can\'t evaluate field X in type []string'),
    ("{{.Client.Os 1}}", 'template: version:1:9: executing "version" at <.Client.Os>: Os has arguments but cannot be invoked as function'),
    ('{{"a" 1}}', 'template: version:1:2: executing "version" at <"a">: can\'t give argument to non-function "a"'),
    ("{{nil}}", 'template: version:1:2: executing "version" at <nil>: nil is not a command'),
    ("{{call .Client}}", 'template: version:1:2: executing "version" at <call .Client>: error calling call: non-function .Client of type system.clientVersion'),
    ("{{range .Client.Os}}{{.}}{{end}}", 'template: version:1:15: executing "version" at <.Client.Os>: range can\'t iterate over linux'),
    ("{{9223372036854775808}}", 'template: version:1:2: executing "version" at <9223372036854775808>: 9223372036854775808 overflows int'),
    ('{{truncate "abc" -1}}', 'template: version:1:2: executing "version" at <truncate "abc" -1>: error calling truncate: runtime error: slice bounds out of range [:-1]'),
    ('{{define "r"}}{{template "r"}}{{end}}{{template "r"}}', 'template: version:1:25: executing "r" at <{{template "r"}}>: exceeded maximum template depth (100000)'),
    ('{{define "T"}}{{.Nope}}{{end}}{{template "T" 1}}', 'template: version:1:16: executing "T" at <.Nope>: can\'t evaluate field Nope in type int'),
    ('{{pad "a" -1 0}}', 'template: version:1:2: executing "version" at <pad "a" -1 0>: error calling pad: strings: negative Repeat count'),
]  # fmt: skip


@pytest.mark.parametrize(("text", "message"), EXEC_ERRORS)
def test_exec_errors_as_go(text: str, message: str) -> None:
    tmpl = parse(text, "version")
    with pytest.raises(TemplateError) as err:
        tmpl.execute(version_info())
    assert str(err.value) == message


def test_maps_missing_keys_and_nils() -> None:
    # docker's raw inspect data are maps: a missing key prints <no value> (an error with missingkey=error,
    # as docker's inspect fallback runs), a JSON null is no value, a nil map or slice prints empty
    data = {"A": {"B": 1}, "N": None, "M": {"b": True, "a": 1.5}, "L": ["x", 2, None]}
    assert (
        run("{{.Missing}}|{{.A.Missing}}|{{.A.Missing.Deeper}}", data) == "<no value>|<no value>|<no value>"
    )
    assert run("{{.N}}|{{.M}}|{{.L}}|{{print .N}}", data) == "<no value>|map[a:1.5 b:true]|[x 2 <nil>]|<nil>"
    with pytest.raises(TemplateError, match='map has no entry for key "Missing"'):
        run("{{.A.Missing}}", data, missingkey="error")
    with pytest.raises(TemplateError, match=r"nil pointer evaluating interface \{\}.X"):
        run("{{.N.X}}", data)
    assert (
        run('{{index .M "zz"}}|{{index .S "zz"}}|{{.S.zz}}', {"M": {}, "S": StrMap()})
        == "<no value>||<no value>"
    )
    nils = {"slice": GoNil("slice"), "map": GoNil("map"), "ptr": GoNil("ptr")}
    assert (
        run("{{.slice}} {{.map}} {{.ptr}} {{json .slice}} {{len .map}} {{.map.k}}", nils)
        == "[] map[] <nil> null 0 <no value>"
    )
    assert run("{{range .slice}}x{{else}}none{{end}} {{if .ptr}}y{{else}}n{{end}}", nils) == "none n"
    with pytest.raises(TemplateError, match=r"nil pointer evaluating \*struct.X"):
        run("{{.ptr.X}}", nils)
    assert run("{{range $k, $v := .}}{{$k}}={{$v}};{{end}}", {"b": 2, "a": 1, "c": 3}) == "a=1;b=2;c=3;"


def test_struct_fields_and_methods() -> None:
    s = Struct({"Name": "web", "Labels": StrMap({"a": "1"})}, "types.Container")
    assert run('{{.Name}} {{.Labels.a}} {{index .Labels "a"}} {{index .Labels "b"}}|', s) == "web 1 1 |"
    with pytest.raises(TemplateError, match=r"can't evaluate field Nope in type types\.Container"):
        run("{{.Nope}}", s)
    row = RowContext({"ID": "abc", "Size": "0B"}, "*formatter.ContainerContext", {"k": "v"})
    assert run('{{.ID}} {{.Label "k"}}/{{.Label "x"}} {{json .}}', row) == 'abc v/ {"ID":"abc","Size":"0B"}'
    with pytest.raises(TemplateError, match="wrong number of args for ID: want 0 got 1"):
        run('{{.ID "x"}}', row)
    with pytest.raises(
        TemplateError, match=r"can't evaluate field Nope in type \*formatter.ContainerContext"
    ):
        run("{{.Nope}}", row)
    # a context's JSON escapes <, > and & as docker's MarshalJSON does; a plain value's does not
    assert run("{{json .}} {{json .Ports}}", RowContext({"Ports": "a->b"}, "t")) == (
        '{"Ports":"a-\\u003eb"} "a->b"'
    )


def test_header_map_label() -> None:
    head = HeaderMap({"ID": "CONTAINER ID"})
    tmpl = parse('{{.ID}}\t{{.Label "com.example.my-label_x"}}\t{{upper .ID}}\t{{json .ID}}')
    assert tmpl.execute(head, funcs=header_funcs()) == "CONTAINER ID\tmy label x\tCONTAINER ID\tCONTAINER ID"


def test_tabwriter_as_docker() -> None:
    # minimum width 10, padding 3; the last cell of a line is no column; a line with one cell breaks columns
    assert tabwrite("CONTAINER ID\tNAMES\nabc\tweb\n") == "CONTAINER ID   NAMES\nabc            web\n"
    assert tabwrite("REPOSITORY\tTAG\tSIZE\nbusybox\tlatest\t1.99MB\n") == (
        "REPOSITORY   TAG       SIZE\nbusybox      latest    1.99MB\n"
    )
    assert tabwrite("a\tb\n\nccccccccccccc\td\n") == "a         b\n\nccccccccccccc   d\n"
    assert tabwrite("a\t\tz\n") == "a                   z\n"


def test_format_rows_table_json_and_errors() -> None:
    rows = [
        RowContext(
            {"ID": "0123456789ab", "Names": "web", "Ports": "80/tcp"}, "*formatter.ContainerContext", {}
        ),
        RowContext({"ID": "ba9876543210", "Names": "db", "Ports": ""}, "*formatter.ContainerContext", {}),
    ]
    header = {"ID": "CONTAINER ID", "Names": "NAMES", "Ports": "PORTS"}

    def show(fmt: str) -> str:
        out = io.StringIO()
        format_rows(rows, fmt, header, out)
        return out.getvalue()

    assert (
        show("table {{.ID}}\\t{{.Names}}") == "CONTAINER ID   NAMES\n0123456789ab   web\nba9876543210   db\n"
    )
    assert show("table {{.Names}} {{.ID}}") == "NAMES CONTAINER ID\nweb 0123456789ab\ndb ba9876543210\n"
    # the header runs the same template over the titles, with docker's header functions (upper keeps it)
    assert (
        show('table {{upper .Names}}\\t{{.Label "com.x.tier"}}') == "NAMES     tier\nWEB       \nDB        \n"
    )
    assert show("{{.Names}}:{{.Ports}}") == "web:80/tcp\ndb:\n"
    assert show("json") == (
        '{"ID":"0123456789ab","Names":"web","Ports":"80/tcp"}\n{"ID":"ba9876543210","Names":"db","Ports":""}\n'
    )
    with pytest.raises(FormatError) as err:
        show("{{.Nope}}")
    assert str(err.value) == (
        'template parsing error: template: :1:2: executing "" at <.Nope>: '
        "can't evaluate field Nope in type *formatter.ContainerContext"
    )
    assert err.value.exit_code == 1
    with pytest.raises(FormatError, match="template parsing error: template: :1: unclosed action"):
        show("{{.ID")


def test_inspect_typed_then_raw(capsys: pytest.CaptureFixture[str]) -> None:
    doc: dict[str, Any] = {
        "Id": "abc",
        "State": {"Status": "exited", "Running": False, "Pid": 0},
        "HostConfig": {"Binds": None, "Memory": 0},
        "Config": {"Labels": {"a": "1"}, "Cmd": ["sh", "-c", "exit 1"], "Entrypoint": None},
        "NetworkSettings": {"Ports": {}, "Networks": {"none": {"IPAddress": ""}}},
    }
    print_inspected(
        [doc],
        '{{.Config.Labels.zz}}|{{index .Config.Labels "zz"}}|{{.State.Health}}|{{.Config.Entrypoint}}|'
        "{{json .Config.Entrypoint}}|{{.Config.Cmd}}|{{.State.Running}}|{{.HostConfig.Binds}}|"
        "{{.NetworkSettings.Ports}}|{{.Config.ExposedPorts}}|{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}",
    )
    assert capsys.readouterr().out == "<no value>||<nil>|[]|null|[sh -c exit 1]|false|[]|map[]|map[]|none\n"
    with pytest.raises(FormatError) as err:
        print_inspected([doc], "{{.Config.Nope}}")
    assert str(err.value) == (
        'template parsing error: template: :1:9: executing "" at <.Config.Nope>: map has no entry for key "Nope"'
    )
    assert capsys.readouterr().out == "\n"  # docker's TemplateInspector.Flush: nothing came out
    with pytest.raises(FormatError) as err:
        print_inspected([doc, {"Id": "b"}], "{{.Id}} {{.Config.Cmd}}")  # the others go on
    assert capsys.readouterr().out == "abc [sh -c exit 1]\n"
    with pytest.raises(FormatError) as err:
        print_inspected([doc], "{{.A")
    assert err.value.exit_code == 64
    print_inspected([doc], "json")
    assert capsys.readouterr().out.startswith('[{"Id":"abc","State":{"Status":"exited"')
    typed = typed_document(doc)
    assert isinstance(typed, Struct) and isinstance(typed["Config"]["Labels"], StrMap)
    # a health check's durations print as Go's time.Duration, the fields JSON left out as their zero values
    # (docker's: {{.Config.Healthcheck}} is {[CMD-SHELL true] 0s 0s 0s 0s 0}); JSON keeps the numbers
    hc: dict[str, Any] = {
        "Id": "abc",
        "State": {},
        "HostConfig": {},
        "Config": {"Healthcheck": {"Test": ["CMD-SHELL", "true"]}},
    }
    print_inspected([hc], "{{.Config.Healthcheck}} {{json .Config.Healthcheck}}")
    assert capsys.readouterr().out == '{[CMD-SHELL true] 0s 0s 0s 0s 0} {"Test":["CMD-SHELL","true"]}\n'
    hc["Config"]["Healthcheck"].update(Interval=90 * 10**9, Timeout=1_500_000)
    print_inspected(
        [hc], "{{.Config.Healthcheck.Interval}} {{.Config.Healthcheck.Timeout}} {{json .Config.Healthcheck}}"
    )
    assert (
        capsys.readouterr().out
        == '1m30s 1.5ms {"Test":["CMD-SHELL","true"],"Interval":90000000000,"Timeout":1500000}\n'
    )
    # time.Time fields print as Go's Time.String() in the typed pass, and marshal back to their text
    network = {"Name": "n", "Id": "f" * 64, "Created": "2026-12-03T13:31:36.348560775Z", "IPAM": {}}
    print_inspected([network], "{{.Created}} {{json .Created}}")
    assert (
        capsys.readouterr().out
        == '2026-12-03 13:31:36.348560775 +0000 UTC "2026-12-03T13:31:36.348560775Z"\n'
    )
    # Go field names in the typed pass, JSON names in the raw one (docker's own documents, dockerd 20.10):
    # both {{.ID}} and {{.Id}} work; a JSON-only name sends the whole template to the raw pass, where a
    # field JSON left out (State.Health) is then missing; JSON prints the struct as it came
    doc["HostConfig"]["NanoCpus"] = 0
    print_inspected([doc], "{{.ID}} {{.HostConfig.NanoCPUs}} {{json .State}}")
    print_inspected([doc], "{{.Id}}")
    assert capsys.readouterr().out == 'abc 0 {"Status":"exited","Running":false,"Pid":0}\nabc\n'
    with pytest.raises(FormatError) as err:
        print_inspected([doc], "{{.State.Health}} {{.HostConfig.NanoCpus}}")
    assert str(err.value) == (
        'template parsing error: template: :1:8: executing "" at <.State.Health>: map has no entry for key "Health"'
    )


# ------------------------------------------------------------------------------------------ properties


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(values)
def test_go_formatting_rules(v: object) -> None:
    """fmt's %v: bools lower case, nil <nil>, slices [a b] of their elements, maps map[k:v] sorted by key."""
    text = format_value(v)
    if v is None:
        assert text == "<nil>"
    elif isinstance(v, bool):
        assert text == ("true" if v else "false")
    elif isinstance(v, int):
        assert text == str(v)
    elif isinstance(v, float):
        # the shortest digits that read back; %e form (two exponent digits at least) when the decimal
        # exponent is below -4 or from 6 on (Go's %g with the shortest precision decides with 6)
        assert float(text) == v
        _, _, exp = text.partition("e")
        x = Decimal(repr(abs(v))).adjusted()
        if v != 0 and (x < -4 or x >= 6):
            assert exp and len(exp) >= 3 and int(exp) == x
        else:
            assert not exp
    elif isinstance(v, str):
        assert text == v
    elif isinstance(v, list):
        assert text == "[" + " ".join(format_value(x, False) for x in v) + "]"
    elif isinstance(v, dict):
        assert text == "map[" + " ".join(f"{k}:{format_value(v[k], False)}" for k in sorted(v)) + "]"
    assert truth(v) == bool(v)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_float_json_reads_back(f: float) -> None:
    text = to_json(f)
    assert float(text) == f and "E" not in text
    if f == int(f) and abs(f) < 1e21:
        assert "." not in text and "e" not in text


DOCKER = shutil.which("docker")
needs_docker_cli = pytest.mark.skipif(DOCKER is None, reason="the docker CLI is not installed")


def docker_template(text: str) -> str:
    """What the docker CLI's Go prints for a template over its version data (no daemon: the client part
    is enough, the command then fails to reach the daemon). Its version output goes through a tabwriter:
    the templates here print no tab, form feed or vertical tab."""
    assert DOCKER is not None
    env = {
        **os.environ,
        "DOCKER_HOST": "unix:///nonexistent-dockyard-test.sock",
        "DOCKER_CONFIG": "/nonexistent",
    }
    r = subprocess.run([DOCKER, "version", "-f", text], capture_output=True, env=env, timeout=30)
    out = r.stdout.decode("utf-8", "surrogateescape")
    return out[:-1] if out.endswith("\n") else out


@needs_docker_cli
def test_against_docker_cli() -> None:
    joined = "\x1e".join(t for t, _ in GO_CASES if "\x1e" not in t)
    got = docker_template(joined).split("\x1e")
    assert got == [run(t) for t, _ in GO_CASES if "\x1e" not in t]


@needs_docker_cli
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=40),
    st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), min_size=1, max_size=20),
    st.lists(
        st.text(
            # characters assigned in Python's Unicode (14): Go's (15) prints newer ones unquoted
            alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Cn"), blacklist_characters="\x1e"),
            max_size=6,
        ),
        min_size=1,
        max_size=10,
    ),
)
def test_fmt_matches_go(floats: list[float], ints: list[int], texts: list[str]) -> None:
    """Go's fmt on generated values, one docker call an example: %v, %.3f, %e, %g, %x, %b of floats, %d %x
    %o of ints, %q %x %v of strings."""
    parts = []
    for f in floats:
        lit = repr(f) if "e" in repr(f) or "." in repr(f) else repr(f) + ".0"
        parts.append(
            f'{{{{printf "%v|%.3f|%e|%g|%8.2v|%x|%.2X|%b" {lit} {lit} {lit} {lit} {lit} {lit} {lit} {lit}}}}}'
        )
    for i in ints:
        parts.append(f'{{{{printf "%d|%x|%o|%+d|%08d" {i} {i} {i} {i} {i}}}}}')
    for t in texts:
        lit = '"' + "".join(f"\\u{ord(c):04x}" if ord(c) < 0x10000 else f"\\U{ord(c):08x}" for c in t) + '"'
        parts.append(f'{{{{printf "%q|%+q|%x|%v|%5.2s" {lit} {lit} {lit} {lit} {lit}}}}}')
    text = "\x1e".join(parts)
    assert run(text) == docker_template(text)


PIECES = [
    "{{", "}}", "{{- ", " -}}", " ", ".Client", ".Os", ".Client.Os", "$", "$x", "$x :=", "$x =", "|", "(", ")",
    '"a"', '"b,c"', "`r`", "1", "-2", "3.5", "1e3", "'c'", "true", "nil", "if", "else", "end", "range", "with",
    "define", "template", "block", "break", "continue", "and", "or", "not", "eq", "lt", "len", "index", "slice",
    "print", "printf", '"%v"', '"%d|%s"', "upper", "split", "join", "pad", "json", "/*", "*/", ",", "=", ":=",
    "x", "\n", "-", ".", "{{end}}", "{{else}}", "{{/* c */}}",
]  # fmt: skip


@needs_docker_cli
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=9))
def test_random_templates_parse_and_print_as_go(pieces: list[str]) -> None:
    """Templates made of random pieces: Go's parse error (message and line) or Go's output, as the docker
    CLI gives them (an execution error is hidden there by the missing daemon: those are left out)."""
    from tui.output import tabwrite

    text = "".join(pieces)
    if "{{" not in text:
        text = "{{" + text + "}}"
    assert DOCKER is not None
    env = {
        **os.environ,
        "DOCKER_HOST": "unix:///nonexistent-dockyard-test.sock",
        "DOCKER_CONFIG": "/nonexistent",
    }
    r = subprocess.run([DOCKER, "version", "-f", text], capture_output=True, env=env, timeout=30)
    out, err = (
        r.stdout.decode("utf-8", "surrogateescape"),
        r.stderr.decode("utf-8", "surrogateescape").strip(),
    )
    try:
        tmpl = parse(text, "version")
    except TemplateError as e:
        assert (r.returncode, err) == (64, f"template parsing error: {e}")
        return
    assert r.returncode != 64, err
    try:
        mine = tmpl.execute(version_info())
    except TemplateError:
        return  # docker hides the execution error behind the daemon's absence
    if out not in ("", "\n") and "<nil> 28.2.2" not in out:  # (docker's client struct has a field more)
        assert tabwrite(mine + "\n", minwidth=20, padding=1) == out


def test_container_context_as_docker() -> None:
    """docker's ContainerContext: the command quoted (and cut at 20 with an ellipsis unless --no-trunc),
    labels sorted, .Label, mounts by volume name or source (cut at 15), local volumes counted, networks,
    sizes only from the sized document, and the JSON keys of docker 28's ps --format json."""
    from core.models import ContainerSummary
    from tui.contexts import ContainerContext

    c = ContainerSummary(
        id="0123456789abcdef" * 4, name="web", image="docker.io/library/busybox:latest", image_id="sha256:" + "d" * 64,
        command="sh -c 'sleep 300; echo done'", created="2026-12-03T13:37:06Z", status="exited", exit_code=1,
        started_at="2026-12-03T13:37:06Z", finished_at="2026-12-03T13:37:07Z", ports=[], labels={"b": "2", "a": "1"},
    )  # fmt: skip
    doc: dict[str, Any] = {
        "Mounts": [
            {"Name": "data", "Source": "/var/lib/x", "Driver": "local"},
            {"Name": "", "Source": "/a/very/long/host/directory", "Driver": ""},
        ],
        "NetworkSettings": {"Networks": {"front": {}, "back": {}}},
    }
    calls: list[tuple[str, bool]] = []

    def inspect(cid: str, size: bool = False) -> dict[str, object]:
        calls.append((cid, size))
        return {**doc, "SizeRw": 12, "SizeRootFs": 1985581} if size else doc

    ctx = ContainerContext(c, True, inspect)
    tmpl = parse(
        '{{.ID}} {{.Names}} {{.Image}} {{.Command}} {{.Labels}} {{.Label "a"}}{{.Label "x"}} {{.State}} '
        "{{.Mounts}} {{.LocalVolumes}} {{.Networks}} {{.CreatedAt}} {{.Platform}}"
    )
    assert tmpl.execute(ctx) == (
        '0123456789ab web busybox:latest "sh -c \'sleep 300; e…" a=1,b=2 1 exited '
        "data,/a/very/long/h… 1 back,front 2026-12-03 13:37:06 +0000 UTC <nil>"
    )
    assert calls == [(c.id, False)]  # one look at the document, without sizes
    assert parse("{{.Size}}").execute(ctx) == "12B (virtual 1.99MB)" and calls[-1] == (c.id, True)
    full = ContainerContext(c, False, inspect)
    assert parse("{{.Command}} {{len .ID}}").execute(full) == "\"sh -c 'sleep 300; echo done'\" 64"
    row = json.loads(parse("{{json .}}").execute(ctx))
    assert set(row) == {
        "Command", "CreatedAt", "ID", "Image", "Labels", "LocalVolumes", "Mounts", "Names", "Networks",
        "Platform", "Ports", "RunningFor", "Size", "State", "Status",
    }  # fmt: skip
    assert row["Platform"] is None and row["Status"].startswith("Exited (1) ")
    # docker ps checks a template on an empty context first: {{index .Names 0}} fails there, as in docker
    with pytest.raises(TemplateError, match="error calling index: reflect: string index out of range"):
        parse("{{index .Names 0}}").execute(ContainerContext(None))


@given(
    st.integers(min_value=1, max_value=5).flatmap(
        lambda n: st.lists(
            st.lists(st.text(alphabet="abc xyz-", max_size=14), min_size=n, max_size=n),
            min_size=1,
            max_size=6,
        )
    )
)
def test_tabwriter_columns(rows: list[list[str]]) -> None:
    """Rows of the same number of cells: each column as wide as its widest cell plus 3, at least 10; the
    last cell as it is (docker's formatter tabwriter)."""
    out = tabwrite("".join("\t".join(r) + "\n" for r in rows)).splitlines()
    widths = [max(10, max(len(r[i]) for r in rows) + 3) for i in range(len(rows[0]) - 1)]
    for line, r in zip(out, rows, strict=True):
        assert line == "".join(cell.ljust(w) for cell, w in zip(r, widths, strict=False)) + r[-1]


def test_image_config_as_the_cli_types_it(capsys: pytest.CaptureFixture[str]) -> None:
    """docker's CLI 28 decodes an image's Config into its DockerOCIImageConfig: `{{json .Config}}` leaves
    out the empty fields and the ones that type has not (Hostname & co.), which a template then reads raw."""
    from tui.output import print_inspected

    image = {
        "Id": "sha256:ab",
        "RepoTags": ["x:latest"],
        "Config": {
            "Hostname": "",
            "User": "",
            "Env": ["A=1"],
            "Cmd": ["sh"],
            "Image": "",
            "Volumes": None,
            "WorkingDir": "/",
            "Entrypoint": None,
            "OnBuild": None,
            "Labels": {"k": "v"},
            "Healthcheck": {"Test": ["CMD-SHELL", "true"], "Interval": 5000000000},
        },
    }
    print_inspected([image], "{{json .Config}}")
    assert capsys.readouterr().out == (
        '{"Env":["A=1"],"Cmd":["sh"],"WorkingDir":"/","Labels":{"k":"v"},'
        '"Healthcheck":{"Test":["CMD-SHELL","true"],"Interval":5000000000}}\n'
    )
    print_inspected([image], "{{.Config.Hostname}}|{{.Config.Entrypoint}}")  # raw: null is <no value>
    assert capsys.readouterr().out == "|<no value>\n"
    print_inspected([image], "{{.Config.OnBuild}}|{{.Config.Volumes}}|{{.Config.Healthcheck.Interval}}")
    assert capsys.readouterr().out == "[]|map[]|5s\n"
