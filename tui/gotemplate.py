"""Go's ``text/template`` as the docker CLI uses it, with Go's value formatting (``fmt``'s ``%v``).

``parse(text)`` lexes and parses a template (actions ``{{ }}`` with trim markers, comments, fields,
variables, pipelines, ``if``/``range``/``with``/``define``/``template``/``block``/``break``/``continue``)
and ``Template.execute(data)`` runs it, with Go's builtins (``and or not len index slice print printf
println eq ne lt le gt ge html js urlquery call``) and docker's functions (``json split join title lower
upper pad truncate``, github.com/docker/cli templates/templates.go). Errors read like Go's:
``template: :1: unclosed action`` (``TemplateError``).

Data model, as Go sees it:
- ``dict``: a ``map[string]interface {}`` (a missing key prints ``<no value>``, or is an error with
  ``missingkey="error"``); ``StrMap``: a ``map[string]string`` (``index`` of a missing key gives "").
- ``Struct``: a ``dict`` that is a Go struct (a missing field is ``can't evaluate field X in type T``).
- ``GoObject``: an object whose public methods are the Go methods of a formatter context (``.Label "k"``).
- ``list``/``tuple``: a slice; ``None``: nil; ``bool``, ``int``, ``float``, ``str`` as Go's.

Positions in messages count characters, where Go counts bytes (the same for ASCII templates).
The module is pure: no engine imports, nothing heavy at import time."""

from __future__ import annotations

import json
import math

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


class TemplateError(Exception):
    """A template that does not parse or fails while it runs; the message is Go's."""


class _Exec(TemplateError):
    pass


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


# ------------------------------------------------------------------------------------------ values


class Struct(dict):
    """A Go struct seen through a dict: its keys are its fields, in order."""

    go_type = "struct"

    def __init__(
        self,
        data: Any = (),
        go_type: str = "struct",
        json_names: dict[str, str] | None = None,
        omitempty: frozenset[str] = frozenset(),
    ) -> None:
        super().__init__(data)
        self.go_type = go_type
        self.json_names = json_names or {}  # Go field name -> its JSON name
        self.omitempty = omitempty  # Go fields left out of JSON when empty


class StrMap(dict):
    """A Go ``map[string]string``: the zero value of a missing key is ""."""


class GoObject:
    """A formatter context: the template calls its public methods (``ID()``, ``Label(name)``).
    ``json`` marshals every method that takes no argument, like docker's ``formatter.MarshalJSON``."""

    go_type = "*formatter.Context"

    def go_method(self, name: str) -> Callable[..., Any] | None:
        if name[:1].isupper():
            fn = getattr(self, name, None)
            if callable(fn):
                return fn
        return None

    def go_json(self) -> dict[str, Any]:
        import inspect

        out: dict[str, Any] = {}
        for name in sorted(dir(type(self))):
            fn = self.go_method(name)
            if fn is None or name == "FullHeader":
                continue
            if not any(p.default is p.empty for p in inspect.signature(fn).parameters.values()):
                out[name] = fn()
        return out


class RowContext(GoObject):
    """A formatter context made of precomputed fields (each a method without arguments, as docker's
    contexts have) and, with ``labels``, docker's ``.Label "key"``."""

    def __init__(self, fields: dict[str, Any], go_type: str, labels: dict[str, str] | None = None) -> None:
        self.fields = fields
        self.go_type = go_type
        self.labels = labels

    def go_method(self, name: str) -> Callable[..., Any] | None:
        if name in self.fields:
            value = self.fields[name]
            return lambda: value
        if name == "Label" and self.labels is not None:
            labels = self.labels
            return lambda key: labels.get(key, "") if isinstance(key, str) else ""
        return None

    def go_json(self) -> dict[str, Any]:
        return {k: self.fields[k] for k in sorted(self.fields)}


class HeaderMap(dict):
    """docker's SubHeaderContext: the column titles by field, and ``.Label "com.x.y"`` gives ``y``."""

    def Label(self, name: str) -> str:
        last = name.split(".")[-1]
        return last.replace("-", " ").replace("_", " ")


class GoTime:
    """A Go time.Time from an RFC 3339 text: prints as Go's Time.String() (``2026-12-03 13:31:36.348560775
    +0000 UTC``), marshals back to the text."""

    go_type = "time.Time"

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        import re

        m = re.match(r"^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$", self.text)
        if not m:
            return self.text
        frac = (m.group(3) or "").rstrip("0")
        zone = m.group(4)
        offset = "+0000" if zone == "Z" else zone.replace(":", "")
        name = "UTC" if zone == "Z" else offset
        return f"{m.group(1)} {m.group(2)}{'.' + frac if frac else ''} {offset} {name}"


class GoDuration(int):
    """A Go time.Duration (nanoseconds): prints as Go's Duration.String() (``30s``, ``1m30s``, ``1.5ms``),
    marshals as its number."""

    go_type = "time.Duration"

    def __str__(self) -> str:
        d = int(self)
        if d == 0:
            return "0s"
        u = abs(d)
        if u < 1000:
            text = f"{u}ns"
        elif u < 10**6:
            text = _decimal(u, 1000) + "µs"
        elif u < 10**9:
            text = _decimal(u, 10**6) + "ms"
        else:
            h, rest = divmod(u, 3600 * 10**9)
            m, rest = divmod(rest, 60 * 10**9)
            text = (f"{h}h" if h else "") + (f"{m}m" if h or m else "") + _decimal(rest, 10**9) + "s"
        return ("-" if d < 0 else "") + text


def _decimal(value: int, unit: int) -> str:
    whole, part = divmod(value, unit)
    digits = str(part).rjust(len(str(unit)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}" if digits else str(whole)


class GoNil:
    """A typed nil: a nil slice prints ``[]``, a nil map ``map[]``, a nil pointer ``<nil>``; JSON null."""

    def __init__(self, kind: str = "ptr") -> None:
        self.kind = kind

    def __repr__(self) -> str:
        return f"GoNil({self.kind!r})"


class _Missing:
    """Go's invalid reflect.Value: what a missing map key gives; it prints ``<no value>``."""

    def __repr__(self) -> str:
        return "<no value>"


NO_VALUE: Any = _Missing()


def go_type(v: Any) -> str:
    """The Go type name a value stands for, as Go's messages print it."""
    if v is None or v is NO_VALUE:
        return "<nil>"
    if isinstance(v, GoNil):
        return {"slice": "[]string", "map": "map[string]string"}.get(v.kind, "*struct")
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, Struct):
        return v.go_type
    if isinstance(v, StrMap):
        return "map[string]string"
    if isinstance(v, dict):
        return "map[string]interface {}"
    if isinstance(v, (list, tuple)):
        if v and all(isinstance(x, str) for x in v):
            return "[]string"
        return "[]interface {}"
    if isinstance(v, (GoObject, GoTime, GoDuration)):
        return v.go_type
    if callable(v):
        return "func"
    return type(v).__name__


def format_float(f: float, fmt: str = "g", prec: int = -1) -> str:
    """Go's strconv.FormatFloat for 'g' (shortest: %v), 'e', 'f'; NaN, +Inf, -Inf."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if fmt == "f":
        return f"{f:.{6 if prec < 0 else prec}f}" if prec >= 0 else _shortest_f(f)
    if fmt == "e":
        if prec < 0:
            digits, exp = _shortest_digits(f)
            mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
            return ("-" if math.copysign(1, f) < 0 else "") + mant + _exp(exp)
        s = f"{f:.{prec}e}"
        m, _, e = s.partition("e")
        return m + _exp(int(e))
    # 'g'
    if prec < 0:
        digits, exp = _shortest_digits(f)
        sign = "-" if math.copysign(1, f) < 0 else ""
        if f == 0:
            return sign + "0"
        if exp < -4 or exp >= 6:  # shortest: Go decides with precision 6
            mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
            return sign + mant + _exp(exp)
        return sign + _place(digits, exp)
    p = prec or 1
    s = f"{f:.{p}g}"
    if "e" in s:
        m, _, e = s.partition("e")
        return m + _exp(int(e))
    return s


def _shortest_digits(f: float) -> tuple[str, int]:
    """The shortest decimal digits that read back as ``f`` (Python's repr, as Go's strconv) and the
    decimal exponent of the first digit."""
    from decimal import Decimal

    t = Decimal(repr(abs(f))).normalize().as_tuple()
    digits = "".join(map(str, t.digits)) or "0"
    return digits, int(t.exponent) + len(digits) - 1


def _place(digits: str, exp: int) -> str:
    if exp < 0:
        return "0." + "0" * (-exp - 1) + digits
    if exp + 1 >= len(digits):
        return digits + "0" * (exp + 1 - len(digits))
    return digits[: exp + 1] + "." + digits[exp + 1 :]


def _shortest_f(f: float) -> str:
    digits, exp = _shortest_digits(f)
    sign = "-" if math.copysign(1, f) < 0 else ""
    return sign + (_place(digits, exp) if f else "0")


def _exp(e: int) -> str:
    return ("e-" if e < 0 else "e+") + f"{abs(e):02d}"


def format_value(v: Any, top: bool = True) -> str:
    """fmt's ``%v`` of a value: ``true``, ``<nil>``, ``[a b]``, ``map[k:v]`` (keys sorted), ``1e+06``."""
    if v is NO_VALUE:
        return "<no value>" if top else "<nil>"
    if v is None:
        return "<nil>"
    if isinstance(v, GoNil):
        return {"slice": "[]", "map": "map[]"}.get(v.kind, "<nil>")
    if isinstance(v, (GoTime, GoDuration)):
        return str(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return format_float(v)
    if isinstance(v, str):
        return v
    if isinstance(v, Struct):
        return "{" + " ".join(format_value(x, False) for x in v.values()) + "}"
    if isinstance(v, dict):
        return (
            "map["
            + " ".join(f"{format_value(k, False)}:{format_value(v[k], False)}" for k in _sorted_keys(v))
            + "]"
        )
    if isinstance(v, (list, tuple)):
        return "[" + " ".join(format_value(x, False) for x in v) + "]"
    if isinstance(v, GoObject):
        s = getattr(v, "String", None)
        if callable(s):
            return str(s())
        return "&{" + " ".join(format_value(x, False) for x in v.go_json().values()) + "}"
    return str(v)


def _sorted_keys(d: dict[Any, Any]) -> list[Any]:
    try:
        return sorted(d)
    except TypeError:
        return sorted(d, key=lambda k: format_value(k, False))


def truth(v: Any) -> bool:
    """Go's template truth: false, 0, nil and empty strings, slices and maps are false; structs true."""
    if v is None or v is NO_VALUE or isinstance(v, GoNil):
        return False
    if isinstance(v, (Struct, GoObject)):
        return True
    if isinstance(v, (bool, int, float, str, list, tuple, dict)):
        return bool(v)
    return True


def to_json(v: Any, escape_html: bool = False) -> str:
    """Go's encoding/json of a value (maps sorted by key, structs in field order, no spaces)."""
    out: list[str] = []
    _json_into(v, out)
    text = "".join(out).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    if escape_html:
        text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text


def _json_into(v: Any, out: list[str]) -> None:
    if v is None or v is NO_VALUE or isinstance(v, GoNil):
        out.append("null")
    elif v is True:
        out.append("true")
    elif v is False:
        out.append("false")
    elif isinstance(v, int):
        out.append(str(int(v)))
    elif isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            raise ValueError(f"json: unsupported value: {format_float(v)}")
        out.append(_go_json_float(v))
    elif isinstance(v, str):
        out.append(json.dumps(v, ensure_ascii=False))
    elif isinstance(v, GoTime):
        out.append(json.dumps(v.text))
    elif isinstance(v, (GoObject, Struct, dict)):
        if isinstance(v, GoObject):
            items = list(v.go_json().items())
        elif isinstance(v, Struct):
            items = [
                (v.json_names.get(k, k), x) for k, x in v.items() if not (k in v.omitempty and not truth(x))
            ]
        else:
            items = [(k, v[k]) for k in _sorted_keys(v)]
        out.append("{")
        for i, (k, x) in enumerate(items):
            if i:
                out.append(",")
            out.append(json.dumps(str(k), ensure_ascii=False))
            out.append(":")
            _json_into(x, out)
        out.append("}")
    elif isinstance(v, (list, tuple)):
        out.append("[")
        for i, x in enumerate(v):
            if i:
                out.append(",")
            _json_into(x, out)
        out.append("]")
    else:
        out.append(json.dumps(str(v), ensure_ascii=False))


def _go_json_float(f: float) -> str:
    a = abs(f)
    if a != 0 and (a < 1e-6 or a >= 1e21):
        s = format_float(f, "e")
        m, _, e = s.partition("e")
        if e.startswith("-0"):
            e = "-" + e[2:]
        elif e.startswith("+0"):
            e = "+" + e[2:]
        return m + "e" + e
    return _shortest_f(f)


# ------------------------------------------------------------------------------------------ fmt


def sprint(args: list[Any]) -> str:
    """fmt.Sprint: a space between operands when neither is a string."""
    out = []
    prev_string = True
    for i, a in enumerate(args):
        is_string = isinstance(a, str)
        if i > 0 and not is_string and not prev_string:
            out.append(" ")
        out.append(format_value(a, False))
        prev_string = is_string
    return "".join(out)


def sprintln(args: list[Any]) -> str:
    return " ".join(format_value(a, False) for a in args) + "\n"


def go_quote(s: str, ascii_only: bool = False) -> str:
    """strconv.Quote (QuoteToASCII with ``ascii_only``)."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch in "\a\b\f\n\r\t\v":
            out.append(
                {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}[
                    ch
                ]
            )
        elif 0xDC80 <= o <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
            out.append(f"\\x{o - 0xDC00:02x}")
        elif (ch.isprintable() or ch == " ") and not (ascii_only and o >= 0x80):
            out.append(ch)
        elif o < 0x80:
            out.append(f"\\x{o:02x}")
        elif o < 0x10000:
            out.append(f"\\u{o:04x}")
        else:
            out.append(f"\\U{o:08x}")
    out.append('"')
    return "".join(out)


def _bad_verb(verb: str, a: Any) -> str:
    if a is None:
        return f"%!{verb}(<nil>)"
    return f"%!{verb}({go_type(a)}={format_value(a, False)})"


def _pad(s: str, width: int | None, minus: bool, zero: bool = False, numeric: bool = False) -> str:
    if width is None or len(s) >= width:
        return s
    if minus:
        return s + " " * (width - len(s))
    if zero and numeric:
        sign = s[0] if s[:1] in "+- " and s[:1] != "" else ""
        body = s[len(sign) :]
        return sign + "0" * (width - len(s)) + body
    if zero:
        return "0" * (width - len(s)) + s
    return " " * (width - len(s)) + s


def _fmt_int(n: int, verb: str, flags: str, prec: int | None) -> str:
    neg = n < 0
    a = -n if neg else n
    if verb == "d" or verb == "v":
        body = str(a)
    elif verb == "x":
        body = f"{a:x}"
    elif verb == "X":
        body = f"{a:X}"
    elif verb in ("o", "O"):
        body = f"{a:o}"
    elif verb == "b":
        body = f"{a:b}"
    else:
        body = str(a)
    if prec is not None:
        if prec == 0 and a == 0:
            body = ""
        body = body.rjust(prec, "0")
    if "#" in flags:
        if verb == "x":
            body = "0x" + body
        elif verb == "X":
            body = "0X" + body
        elif verb == "o" and not body.startswith("0"):
            body = "0" + body
        elif verb == "b":
            body = "0b" + body
    if verb == "O":
        body = "0o" + body
    if neg:
        body = "-" + body
    elif "+" in flags:
        body = "+" + body
    elif " " in flags:
        body = " " + body
    return body


def _fmt_one(verb: str, a: Any, flags: str, width: int | None, prec: int | None) -> str:
    minus = "-" in flags
    zero = "0" in flags and not minus
    if verb == "T":
        return _pad(go_type(a) if a is not None else "<nil>", width, minus)
    if a is NO_VALUE:
        a = None
    if isinstance(a, (GoTime, GoDuration)) and verb in "vs":  # a Stringer
        return _pad(str(a), width, minus)
    if isinstance(a, (list, tuple)):
        inner = [_fmt_one(verb, x, flags, width, prec) for x in a]
        return "[" + " ".join(inner) + "]"
    if isinstance(a, dict) and not isinstance(a, Struct) and verb != "v":
        parts = [
            f"{_fmt_one(verb, k, flags, width, prec)}:{_fmt_one(verb, a[k], flags, width, prec)}"
            for k in _sorted_keys(a)
        ]
        return "map[" + " ".join(parts) + "]"
    if verb == "v":
        if isinstance(a, float):
            s = format_float(a, "g", -1 if prec is None else prec)
            if "+" in flags and a >= 0:
                s = "+" + s
            return _pad(s, width, minus, zero, True)
        if isinstance(a, int) and not isinstance(a, bool):
            return _pad(_fmt_int(a, "d", flags, prec), width, minus, zero, True)
        if "#" in flags and isinstance(a, str):
            return _pad(go_quote(a), width, minus)
        if "+" in flags and isinstance(a, Struct):
            s = "{" + " ".join(f"{k}:{format_value(x, False)}" for k, x in a.items()) + "}"
            return _pad(s, width, minus)
        s = format_value(a, False)
        if prec is not None and isinstance(a, str):
            s = s[:prec]
        return _pad(s, width, minus)
    if a is None:
        return _bad_verb(verb, None)
    if isinstance(a, bool):
        if verb == "t":
            return _pad("true" if a else "false", width, minus)
        return _bad_verb(verb, a)
    if isinstance(a, int):
        if verb in "dxXobO":
            return _pad(_fmt_int(a, verb, flags, prec), width, minus, zero and prec is None, True)
        if verb == "c":
            return _pad(chr(a) if 0 <= a <= 0x10FFFF else "\ufffd", width, minus)
        if verb == "q":
            return _pad("'" + (chr(a) if 0 <= a <= 0x10FFFF else "\ufffd") + "'", width, minus)
        if verb == "U":
            text = f"U+{a:04X}"
            if "#" in flags and 0 <= a <= 0x10FFFF and chr(a).isprintable():
                text += f" '{chr(a)}'"
            return _pad(text, width, minus)
        return _bad_verb(verb, a)  # %f of an int: Go does not convert
    if isinstance(a, float):
        if verb in "eEfFgG":
            lower = verb.lower()
            if lower == "f":
                s = format_float(a, "f", 6 if prec is None else prec)
            elif lower == "e":
                s = format_float(a, "e", 6 if prec is None else prec)
            else:
                s = format_float(a, "g", -1 if prec is None else prec)
            if verb.isupper():
                s = s.upper().replace("INF", "Inf").replace("NAN", "NaN")
            if "+" in flags and not s.startswith("-"):
                s = "+" + s
            elif " " in flags and not s.startswith("-"):
                s = " " + s
            return _pad(s, width, minus, zero, True)
        if verb == "b":  # the mantissa bits and a power of two: 4503599627370496p-52
            import struct

            bits = struct.unpack(">Q", struct.pack(">d", a))[0]
            e_bits, mant = (bits >> 52) & 0x7FF, bits & ((1 << 52) - 1)
            e = -1074 if e_bits == 0 else e_bits - 1075
            if e_bits:
                mant |= 1 << 52
            return _pad(("-" if bits >> 63 else "") + f"{mant}p{e:+d}", width, minus)
        if verb in "xX":
            text = _hex_float(a, prec)
            return _pad(text.upper().replace("0X", "0X") if verb == "X" else text, width, minus)
        return _bad_verb(verb, a)
    if isinstance(a, str):
        s = a
        if verb == "s":
            if prec is not None:
                s = s[:prec]
            return _pad(s, width, minus)
        if verb == "q":
            if prec is not None:
                s = s[:prec]
            if "#" in flags and "`" not in s and all(c.isprintable() or c == "\t" for c in s):
                return _pad("`" + s + "`", width, minus)
            return _pad(go_quote(s, ascii_only="+" in flags), width, minus)
        if verb in "xX":
            data = s.encode("utf-8", "surrogateescape")
            if prec is not None:
                data = data[:prec]
            h = data.hex()
            if " " in flags:
                h = " ".join(f"{b:02x}" for b in data)
            if verb == "X":
                h = h.upper()
            return _pad(h, width, minus)
        return _bad_verb(verb, a)
    if isinstance(a, GoObject) and verb == "s":
        return _pad(format_value(a, False), width, minus)
    if isinstance(a, (Struct,)) and verb == "s":
        return _pad("{" + " ".join(_fmt_one("s", x, "", None, None) for x in a.values()) + "}", width, minus)
    return _bad_verb(verb, a)


def _hex_float(f: float, prec: int | None) -> str:
    """fmt's %x of a float: ``0x1.cp+01``; with a precision, that many hex digits, rounded half to even."""
    if math.isnan(f) or math.isinf(f):
        return format_float(f)
    sign = "-" if math.copysign(1, f) < 0 else ""
    if f == 0:
        return sign + "0x0" + ("." + "0" * prec if prec else "") + "p+00"
    mant, exp = math.frexp(abs(f))  # abs(f) = mant * 2**exp, 0.5 <= mant < 1
    mant, exp = mant * 2, exp - 1  # 1 <= mant < 2 (subnormals too: Go normalises them)
    if prec is None:
        digits = float.hex(mant)[2:].partition("p")[0].partition(".")[2].rstrip("0")
    else:
        scale = 16**prec
        n = round(mant * scale)  # half to even on the whole mantissa, as strconv does
        if n == 2 * scale:
            n, exp = scale, exp + 1
        digits = f"{n - scale:0{prec}x}" if prec else ""
    body = "1" + ("." + digits if digits else "")
    return f"{sign}0x{body}p{'-' if exp < 0 else '+'}{abs(exp):02d}"


def sprintf(fmt: str, args: list[Any]) -> str:
    """fmt.Sprintf with Go's verbs, flags, width and precision (``*`` too) and its error forms."""
    out: list[str] = []
    i, n = 0, len(fmt)
    argi = 0
    reordered = False
    while i < n:
        j = fmt.find("%", i)
        if j < 0:
            out.append(fmt[i:])
            break
        out.append(fmt[i:j])
        i = j + 1
        flags = ""
        while i < n and fmt[i] in "+-# 0":
            flags += fmt[i]
            i += 1
        width: int | None = None
        prec: int | None = None
        if i < n and fmt[i] == "*":
            i += 1
            if argi < len(args) and isinstance(args[argi], int) and not isinstance(args[argi], bool):
                width = args[argi]
                if width < 0:
                    flags += "-"
                    width = -width
            else:
                out.append("%!(BADWIDTH)")
            argi += 1
        else:
            st = i
            while i < n and fmt[i].isdigit():
                i += 1
            if i > st:
                width = int(fmt[st:i])
        if i < n and fmt[i] == ".":
            i += 1
            if i < n and fmt[i] == "*":
                i += 1
                if argi < len(args) and isinstance(args[argi], int) and not isinstance(args[argi], bool):
                    prec = args[argi]
                    if prec < 0:
                        prec = None
                else:
                    out.append("%!(BADPREC)")
                argi += 1
            else:
                st = i
                while i < n and fmt[i].isdigit():
                    i += 1
                prec = int(fmt[st:i]) if i > st else 0
        if i >= n:
            out.append("%!(NOVERB)")
            break
        verb = fmt[i]
        i += 1
        if verb == "%":
            out.append("%")
            continue
        if argi >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        a = args[argi]
        argi += 1
        if verb not in "vTtbcdoOqxXUeEfFgGsp":
            out.append(_bad_verb(verb, a))
            continue
        out.append(_fmt_one(verb, a, flags, width, prec))
    if not reordered and argi < len(args):
        extra = ", ".join(
            "<nil>" if a is None or a is NO_VALUE else f"{go_type(a)}={format_value(a, False)}"
            for a in args[argi:]
        )
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


# ------------------------------------------------------------------------------------------ lexer

_SPACE = " \t\r\n"
_EOF = "EOF"


class _Item:
    __slots__ = ("line", "pos", "typ", "val")

    def __init__(self, typ: str, val: str, pos: int, line: int) -> None:
        self.typ = typ
        self.val = val
        self.pos = pos
        self.line = line

    def __repr__(self) -> str:
        return f"{self.typ}:{self.val!r}"


_KEYWORDS = {
    "block",
    "break",
    "continue",
    "define",
    "else",
    "end",
    "if",
    "range",
    "nil",
    "template",
    "with",
}


def _lex(text: str, name: str = "") -> list[_Item]:
    """Go's lexer: text and actions, with trim markers and comments. Returns the items, the last one
    an error or EOF."""
    items: list[_Item] = []
    pos = 0
    n = len(text)
    line = 1

    action_line = 0  # where the action being lexed began (Go names it when an error is on a later line)

    def emit(typ: str, start: int, end: int, value: str | None = None) -> None:
        items.append(_Item(typ, text[start:end] if value is None else value, start, line))

    def fail(msg: str, at: int) -> None:
        extra = ""
        if action_line and action_line != line:
            extra = f" in action started at {name}:{action_line}"
            if msg.endswith(" action"):
                extra = extra[len(" in action") :]
        items.append(_Item("error", msg + extra, at, line))

    while True:
        j = text.find("{{", pos)
        if j < 0:
            if pos < n:
                emit("text", pos, n)
                line += text.count("\n", pos, n)
            items.append(_Item(_EOF, "", n, line))
            return items
        trim_left = j + 3 < n + 1 and text.startswith("-", j + 2) and j + 3 < n and text[j + 3] in _SPACE
        end_text = j
        if trim_left:
            while end_text > pos and text[end_text - 1] in _SPACE:
                end_text -= 1
        if end_text > pos:
            emit("text", pos, end_text)
        line += text.count("\n", pos, j)
        emit("{{", j, j + 2)
        action_line = line
        pos = j + 2 + (2 if trim_left else 0)
        line += text.count("\n", j + 2, pos)  # a trim marker's newline counts
        # a comment
        if text.startswith("/*", pos):
            action_line = 0
            k = text.find("*/", pos + 2)
            if k < 0:
                fail("unclosed comment", pos)
                return items
            comment_line = line
            line += text.count("\n", pos, k)
            after = k + 2
            trim_right = False
            if text.startswith(" -}}", after) or (
                after < n and text[after] in _SPACE and text.startswith("-}}", after + 1)
            ):
                trim_right = True
                after += 1
                close = after + 3
            elif text.startswith("}}", after):
                close = after + 2
            else:
                items.append(_Item("error", "comment ends before closing delimiter", pos, comment_line))
                return items
            items.pop()  # comments leave no action behind
            pos = close
            if trim_right:
                while pos < n and text[pos] in _SPACE:
                    if text[pos] == "\n":
                        line += 1
                    pos += 1
            continue
        # inside an action
        paren = 0
        while True:
            if pos >= n:
                fail("unclosed action", pos)
                return items
            ch = text[pos]
            # right delimiter, maybe with a trim marker
            if ch in _SPACE and text.startswith("-}}", pos + 1):
                if paren:
                    fail("unclosed left paren", pos)
                    return items
                emit("}}", pos + 2, pos + 4)
                pos += 4
                while pos < n and text[pos] in _SPACE:
                    if text[pos] == "\n":
                        line += 1
                    pos += 1
                break
            if text.startswith("}}", pos):
                if paren:
                    fail("unclosed left paren", pos)
                    return items
                emit("}}", pos, pos + 2)
                pos += 2
                break
            if ch in _SPACE:
                st = pos
                while pos < n and text[pos] in _SPACE and not text.startswith("-}}", pos + 1):
                    pos += 1
                emit("space", st, pos)  # an item has the line it starts on
                line += text.count("\n", st, pos)
                continue
            if ch == "=":
                emit("=", pos, pos + 1)
                pos += 1
                continue
            if ch == ":":
                if not text.startswith(":=", pos):
                    fail("expected :=", pos)
                    return items
                emit(":=", pos, pos + 2)
                pos += 2
                continue
            if ch == "|":
                emit("|", pos, pos + 1)
                pos += 1
                continue
            if ch == '"':
                k = pos + 1
                while True:
                    if k >= n or text[k] == "\n":
                        fail("unterminated quoted string", pos)
                        return items
                    if text[k] == "\\":
                        k += 2
                        continue
                    if text[k] == '"':
                        break
                    k += 1
                emit("string", pos, k + 1)
                pos = k + 1
                continue
            if ch == "`":
                k = text.find("`", pos + 1)
                if k < 0:
                    fail("unterminated raw quoted string", pos)
                    return items
                emit("rawstring", pos, k + 1)
                line += text.count("\n", pos, k)
                pos = k + 1
                continue
            if ch == "'":
                k = pos + 1
                while True:
                    if k >= n or text[k] == "\n":
                        fail("unterminated character constant", pos)
                        return items
                    if text[k] == "\\":
                        k += 2
                        continue
                    if text[k] == "'":
                        break
                    k += 1
                emit("char", pos, k + 1)
                pos = k + 1
                continue
            if ch == "$":
                k = pos + 1
                while k < n and (text[k].isalnum() or text[k] == "_"):
                    k += 1
                if not _at_terminator(text, k):
                    fail(f"bad character {_go_rune(text[k])}", k)
                    return items
                emit("variable", pos, k)
                pos = k
                continue
            if ch in "+-" or ch.isdigit() or (ch == "." and pos + 1 < n and text[pos + 1].isdigit()):
                k, good = _scan_number(text, pos)
                if good and k < n and text[k] in "+-":  # Go's complex constant: 1+2i
                    k, good = _scan_number(text, k)
                    good = good and text[k - 1] == "i"
                if not good:
                    fail(f'bad number syntax: "{text[pos:k]}"', pos)
                    return items
                emit("number", pos, k)
                pos = k
                continue
            if ch == "." and pos + 1 == n:  # Go lexes a last "." as a number
                emit("number", pos, n)
                pos = n
                continue
            if ch == ".":
                k = pos + 1
                while k < n and (text[k].isalnum() or text[k] == "_"):
                    k += 1
                if k == pos + 1 and _at_terminator(text, k):
                    emit("dot", pos, k)
                    pos = k
                    continue
                if not _at_terminator(text, k):
                    fail(f"bad character {_go_rune(text[k])}", k)
                    return items
                emit("field", pos, k)
                pos = k
                continue
            if ch.isalpha() or ch == "_":
                k = pos
                while k < n and (text[k].isalnum() or text[k] == "_"):
                    k += 1
                if not _at_terminator(text, k):
                    fail(f"bad character {_go_rune(text[k])}", k)
                    return items
                word = text[pos:k]
                if word in _KEYWORDS:
                    emit(word if word not in ("nil",) else "nil", pos, k)
                elif word in ("true", "false"):
                    emit("bool", pos, k)
                else:
                    emit("identifier", pos, k)
                pos = k
                continue
            if ch == "(":
                paren += 1
                emit("(", pos, pos + 1)
                pos += 1
                continue
            if ch == ")":
                paren -= 1
                if paren < 0:
                    fail("unexpected right paren", pos)
                    return items
                emit(")", pos, pos + 1)
                pos += 1
                continue
            if ch.isprintable() and ord(ch) < 0x80:
                emit("rawchar", pos, pos + 1)
                pos += 1
                continue
            fail(f"unrecognized character in action: {_go_rune(ch)}", pos)
            return items


def _go_rune(ch: str) -> str:
    return f"U+{ord(ch):04X} '{ch}'" if ch.isprintable() else f"U+{ord(ch):04X}"


def _at_terminator(text: str, k: int) -> bool:
    if k >= len(text):
        return True
    ch = text[k]
    return ch in _SPACE or ch in ".,|:()" or text.startswith("}}", k)


def _scan_number(text: str, pos: int) -> tuple[int, bool]:
    """Go's lexer.scanNumber: where the number ends, and False (one character further) when a letter or
    digit follows it."""
    k = pos
    n = len(text)
    if k < n and text[k] in "+-":
        k += 1
    digits = "0123456789_"
    if text.startswith(("0x", "0X"), k):
        k += 2
        digits = "0123456789abcdefABCDEF_"
    elif text.startswith(("0o", "0O"), k):
        k += 2
        digits = "01234567_"
    elif text.startswith(("0b", "0B"), k):
        k += 2
        digits = "01_"
    while k < n and text[k] in digits:
        k += 1
    if k < n and text[k] == ".":
        k += 1
        while k < n and text[k] in digits:
            k += 1
    exponent = "eE" if digits == "0123456789_" else "pP" if digits.startswith("0123456789abcdef") else ""
    if k < n and text[k] in exponent:
        k += 1
        if k < n and text[k] in "+-":
            k += 1
        while k < n and text[k] in "0123456789_":
            k += 1
    if k < n and text[k] == "i":
        k += 1
    if k < n and (text[k].isalpha() or text[k].isdigit() or text[k] == "_"):
        return k + 1, False
    return k, True


# ------------------------------------------------------------------------------------------ nodes


class _Node:
    pos = 0

    def go(self) -> str:
        return ""


class _Text(_Node):
    def __init__(self, text: str, pos: int) -> None:
        self.text = text
        self.pos = pos


class _Field(_Node):
    def __init__(self, idents: list[str], pos: int) -> None:
        self.idents = idents
        self.pos = pos

    def go(self) -> str:
        return "".join("." + i for i in self.idents)


class _Variable(_Node):
    def __init__(self, idents: list[str], pos: int) -> None:
        self.idents = idents  # idents[0] is "$x"
        self.pos = pos

    def go(self) -> str:
        return ".".join(self.idents)


class _Dot(_Node):
    def __init__(self, pos: int) -> None:
        self.pos = pos

    def go(self) -> str:
        return "."


class _Nil(_Node):
    def __init__(self, pos: int) -> None:
        self.pos = pos

    def go(self) -> str:
        return "nil"


class _Bool(_Node):
    def __init__(self, value: bool, pos: int) -> None:
        self.value = value
        self.pos = pos

    def go(self) -> str:
        return "true" if self.value else "false"


class _Number(_Node):
    def __init__(self, text: str, pos: int, value: int | float, is_int: bool, is_char: bool = False) -> None:
        self.text = text
        self.pos = pos
        self.value = value
        self.is_int = is_int
        self.is_char = is_char

    def go(self) -> str:
        return self.text


class _String(_Node):
    def __init__(self, quoted: str, value: str, pos: int) -> None:
        self.quoted = quoted
        self.value = value
        self.pos = pos

    def go(self) -> str:
        return self.quoted


class _Identifier(_Node):
    def __init__(self, name: str, pos: int) -> None:
        self.name = name
        self.pos = pos

    def go(self) -> str:
        return self.name


class _Chain(_Node):
    def __init__(self, node: _Node, fields: list[str], pos: int) -> None:
        self.node = node
        self.fields = fields
        self.pos = pos

    def go(self) -> str:
        inner = self.node.go()
        if isinstance(self.node, _Pipe):
            inner = "(" + inner + ")"
        return inner + "".join("." + f for f in self.fields)


class _Command(_Node):
    def __init__(self, args: list[_Node], pos: int) -> None:
        self.args = args
        self.pos = pos

    def go(self) -> str:
        parts = []
        for a in self.args:
            parts.append("(" + a.go() + ")" if isinstance(a, _Pipe) else a.go())
        return " ".join(parts)


class _Pipe(_Node):
    def __init__(self, pos: int, decls: list[str], is_assign: bool, cmds: list[_Command]) -> None:
        self.pos = pos
        self.decls = decls
        self.is_assign = is_assign
        self.cmds = cmds

    def go(self) -> str:
        s = ""
        if self.decls:
            s = ", ".join(self.decls) + (" = " if self.is_assign else " := ")
        return s + " | ".join(c.go() for c in self.cmds)


class _Action(_Node):
    def __init__(self, pipe: _Pipe, pos: int) -> None:
        self.pipe = pipe
        self.pos = pos

    def go(self) -> str:
        return "{{" + self.pipe.go() + "}}"


class _List(_Node):
    def __init__(self, pos: int) -> None:
        self.nodes: list[_Node] = []
        self.pos = pos


class _Branch(_Node):
    kind = ""

    def __init__(self, pipe: _Pipe, body: _List, else_: _List | None, pos: int) -> None:
        self.pipe = pipe
        self.body = body
        self.else_ = else_
        self.pos = pos

    def go(self) -> str:
        return "{{" + self.kind + " " + self.pipe.go() + "}}"


class _If(_Branch):
    kind = "if"


class _Range(_Branch):
    kind = "range"


class _With(_Branch):
    kind = "with"


class _BreakNode(_Node):
    def __init__(self, pos: int) -> None:
        self.pos = pos

    def go(self) -> str:
        return "{{break}}"


class _ContinueNode(_Node):
    def __init__(self, pos: int) -> None:
        self.pos = pos

    def go(self) -> str:
        return "{{continue}}"


class _TemplateCall(_Node):
    def __init__(self, name: str, pipe: _Pipe | None, pos: int) -> None:
        self.name = name
        self.pipe = pipe
        self.pos = pos

    def go(self) -> str:
        return "{{template " + json.dumps(self.name) + (" " + self.pipe.go() if self.pipe else "") + "}}"


# ------------------------------------------------------------------------------------------ parser


class _Parser:
    def __init__(self, text: str, name: str, funcs: dict[str, Any]) -> None:
        self.text = text
        self.name = name
        self.funcs = funcs
        self.items = _lex(text, name)
        self.i = 0
        self.vars: list[str] = ["$"]
        self.range_depth = 0
        self.defs: dict[str, _List] = {}
        self.far = 0  # the furthest item read

    # ---- tokens
    def next(self) -> _Item:
        self.far = max(self.far, self.i)
        it = self.items[self.i]
        if it.typ == "error":
            self.fail(it.val, it)
        self.i += 1
        return it

    def backup(self) -> None:
        self.i -= 1

    def peek(self) -> _Item:
        self.far = max(self.far, self.i)
        return self.items[self.i]  # a lexer error shows when the parser takes it (next), as in Go

    def next_non_space(self) -> _Item:
        while True:
            it = self.next()
            if it.typ != "space":
                return it

    def peek_non_space(self) -> _Item:
        while self.items[self.i].typ == "space":
            self.i += 1
        return self.peek()

    def fail(self, msg: str, item: _Item | None = None) -> None:
        # Go names the line of the furthest token it has read, whichever the error is about
        line = self.items[min(self.far, len(self.items) - 1)].line
        raise TemplateError(f"template: {self.name}:{line}: {msg}")

    def unexpected(self, it: _Item, context: str) -> None:
        if it.typ == "error":
            self.fail(it.val, it)
        self.fail(f"unexpected {_describe(it)} in {context}", it)

    # ---- structure
    def parse(self) -> _List:
        root = _List(0)
        while self.peek().typ != _EOF:
            if self.peek().typ == "{{":
                save = self.i
                self.next()
                if self.next_non_space().typ == "define":
                    self.parse_definition()
                    continue
                self.i = save
            node = self.text_or_action()
            if isinstance(node, _Sentinel):
                self.fail(f"unexpected {node.word}", node.item)
            root.nodes.append(node)
        return root

    def parse_definition(self) -> None:
        tok = self.next_non_space()
        if tok.typ not in ("string", "rawstring"):
            self.unexpected(tok, "define clause")
        name = _unquote(tok.val)
        if self.next_non_space().typ != "}}":
            self.fail("unexpected token in define clause", tok)
        saved = self.vars
        self.vars = ["$"]
        body, end = self.item_list()
        self.vars = saved
        if end.word != "{{end}}":
            self.fail(f"unexpected {end.word} in define clause", end.item)
        self.defs[name] = body

    def item_list(self) -> tuple[_List, _Sentinel]:
        lst = _List(self.peek_non_space().pos)
        while self.peek_non_space().typ != _EOF:
            node = self.text_or_action()
            if isinstance(node, _Sentinel):
                return lst, node
            lst.nodes.append(node)
        it = self.peek()
        self.fail("unexpected EOF", it)
        raise AssertionError

    def text_or_action(self) -> _Node:
        it = self.next_non_space()
        if it.typ == "text":
            return _Text(it.val, it.pos)
        if it.typ == "{{":
            return self.action()
        self.unexpected(it, "input")
        raise AssertionError

    def action(self) -> _Node:
        tok = self.next_non_space()
        t = tok.typ
        if t == "block":
            return self.block_control(tok)
        if t == "break":
            return self.break_control(tok, "break")
        if t == "continue":
            return self.break_control(tok, "continue")
        if t == "else":
            return self.else_control(tok)
        if t == "end":
            self.expect("}}", "end")
            return _Sentinel("{{end}}", tok)
        if t == "if":
            return self.branch(_If, "if", tok)
        if t == "range":
            return self.branch(_Range, "range", tok)
        if t == "template":
            return self.template_control(tok)
        if t == "with":
            return self.branch(_With, "with", tok)
        self.backup()
        it = self.peek()
        return _Action(self.pipeline("command", "}}"), it.pos)

    def expect(self, typ: str, context: str) -> _Item:
        tok = self.next_non_space()
        if tok.typ != typ:
            self.unexpected(tok, context)
        return tok

    def break_control(self, tok: _Item, word: str) -> _Node:
        nxt = self.next_non_space()
        if nxt.typ != "}}":
            self.unexpected(nxt, "{{" + word + "}}")
        if not self.range_depth:
            self.fail(f"{{{{{word}}}}} outside {{{{range}}}}", tok)
        return _BreakNode(tok.pos) if word == "break" else _ContinueNode(tok.pos)

    def else_control(self, tok: _Item) -> _Node:
        peek = self.peek_non_space()
        if peek.typ in ("if", "with"):
            return _Sentinel("{{else}}", tok, chained=peek.typ)
        self.expect("}}", "else")
        return _Sentinel("{{else}}", tok)

    def branch(self, cls: type[_Branch], context: str, tok: _Item) -> _Node:
        saved = len(self.vars)
        pipe = self.pipeline(context, "}}")
        if context == "range":
            self.range_depth += 1
        body, end = self.item_list()
        if context == "range":
            self.range_depth -= 1
        else_list: _List | None = None
        if end.word == "{{else}}":
            # {{else if b}} is {{else}}{{if b}}...{{end}}{{end}}: the nested branch takes the one {{end}}
            if context in ("if", "with") and end.chained == context:
                kw = self.next_non_space()
                else_list = _List(end.item.pos)
                else_list.nodes.append(self.branch(cls, context, kw))
            else:
                else_list, end2 = self.item_list()
                if end2.word != "{{end}}":
                    self.fail(f"expected end; found {end2.word}", end2.item)
        del self.vars[saved:]
        return cls(pipe, body, else_list, tok.pos)

    def block_control(self, tok: _Item) -> _Node:
        ntok = self.next_non_space()
        if ntok.typ not in ("string", "rawstring"):
            self.unexpected(ntok, "block clause")
        name = _unquote(ntok.val)
        pipe = self.pipeline("block clause", "}}")
        saved = self.vars
        self.vars = ["$"]
        body, end = self.item_list()
        self.vars = saved
        if end.word != "{{end}}":
            self.fail(f"unexpected {end.word} in block clause", end.item)
        self.defs[name] = body
        return _TemplateCall(name, pipe, ntok.pos)

    def template_control(self, tok: _Item) -> _Node:
        ntok = self.next_non_space()
        if ntok.typ not in ("string", "rawstring"):
            self.unexpected(ntok, "template clause")
        name = _unquote(ntok.val)
        pipe = None
        if self.next_non_space().typ != "}}":
            self.backup()
            pipe = self.pipeline("template clause", "}}")
        return _TemplateCall(name, pipe, ntok.pos)

    # ---- pipelines
    def pipeline(self, context: str, end: str) -> _Pipe:
        tok = self.peek_non_space()
        pipe = _Pipe(tok.pos, [], False, [])
        while True:  # declarations: $x :=, $x =, range $i, $v := (looked at without taking an error)
            save = self.i
            v = self.peek_non_space()
            if v.typ != "variable":
                self.i = save
                break
            self.i += 1
            nxt = self.peek_non_space()
            if nxt.typ in (":=", "=") or (nxt.typ == "rawchar" and nxt.val == ","):
                self.i += 1
            if nxt.typ in (":=", "="):
                pipe.is_assign = nxt.typ == "="
                pipe.decls.append(v.val)
                self.vars.append(v.val)
                break
            if nxt.typ == "rawchar" and nxt.val == ",":
                pipe.decls.append(v.val)
                self.vars.append(v.val)
                if context == "range" and len(pipe.decls) < 2:
                    if self.peek_non_space().typ in ("variable", "}}", ")"):
                        continue
                    self.fail("range can only initialize variables", nxt)
                self.fail(f"too many declarations in {context}", nxt)
            self.i = save
            break
        while True:
            tok = self.next_non_space()
            if tok.typ == end:
                self.check_pipeline(pipe, context, tok)
                return pipe
            if tok.typ in _OPERAND_START:
                self.backup()
                pipe.cmds.append(self.command())
                continue
            self.unexpected(tok, context)

    def check_pipeline(self, pipe: _Pipe, context: str, tok: _Item) -> None:
        if not pipe.cmds:
            self.fail(f"missing value for {context}", tok)
        for i, c in enumerate(pipe.cmds[1:]):
            first = c.args[0]
            if isinstance(first, (_Bool, _Dot, _Nil, _Number, _String)):
                self.fail(f"non executable command in pipeline stage {i + 2}", tok)

    def command(self) -> _Command:
        cmd = _Command([], self.peek_non_space().pos)
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                cmd.args.append(operand)
            tok = self.next()
            if tok.typ == "space":
                continue
            if tok.typ in ("}}", ")"):
                self.backup()
            elif tok.typ == "|":
                pass
            else:
                self.unexpected(tok, "operand")
            break
        if not cmd.args:
            self.fail("empty command", tok)
        return cmd

    def operand(self) -> _Node | None:
        node = self.term()
        if node is None:
            return None
        if self.peek().typ == "field":
            fields = []
            chain_pos = self.peek().pos
            while self.peek().typ == "field":
                fields.append(self.next().val[1:])
            if isinstance(node, _Field):
                return _Field(node.idents + fields, chain_pos)
            if isinstance(node, _Variable):
                return _Variable(node.idents + fields, chain_pos)
            if isinstance(node, (_Bool, _String, _Number, _Nil, _Dot)):
                self.fail(f"unexpected . after term {go_quote(node.go())}", self.items[self.i - 1])
            return _Chain(node, fields, chain_pos)
        return node

    def term(self) -> _Node | None:
        tok = self.next_non_space()
        t = tok.typ
        if t == "identifier":
            if tok.val not in self.funcs and tok.val not in _BUILTINS:
                self.fail(f"function {json.dumps(tok.val)} not defined", tok)
            return _Identifier(tok.val, tok.pos)
        if t == "dot":
            return _Dot(tok.pos)
        if t == "nil":
            return _Nil(tok.pos)
        if t == "variable":
            if tok.val not in self.vars:
                self.fail(f"undefined variable {json.dumps(tok.val)}", tok)
            return _Variable([tok.val], tok.pos)
        if t == "field":
            return _Field([tok.val[1:]], tok.pos)
        if t == "bool":
            return _Bool(tok.val == "true", tok.pos)
        if t in ("char", "number"):
            return self.number(tok)
        if t == "(":
            pipe = self.pipeline("parenthesized pipeline", ")")
            return pipe
        if t in ("string", "rawstring"):
            try:
                value = _unquote(tok.val)
            except ValueError as err:
                self.fail(str(err), tok)
            return _String(tok.val, value, tok.pos)
        self.backup()
        return None

    def number(self, tok: _Item) -> _Number:
        text = tok.val
        if tok.typ == "char":
            try:
                char = _unquote_char(text)
            except ValueError:
                self.fail(f"malformed character constant: {text}", tok)
            return _Number(text, tok.pos, ord(char), True, is_char=True)
        clean = text.replace("_", "")
        if clean.endswith("i"):  # Go's complex constants: not for docker's data
            self.fail(f'illegal number syntax: "{text}"', tok)
        body = clean.lstrip("+-")
        try:
            octal = body[:1] == "0" and body[1:2].isdigit()  # Go's 017 is octal
            integer = int(clean, 8) if octal else int(clean, 0)
            if not -(2**63) <= integer < 2**64:
                raise ValueError(text)
            return _Number(text, tok.pos, integer, True)
        except ValueError:
            pass
        try:
            real = float.fromhex(clean) if body[:2].lower() == "0x" else float(clean)
            return _Number(text, tok.pos, real, False)
        except (ValueError, OverflowError):
            self.fail(f'illegal number syntax: "{text}"', tok)
        raise AssertionError


_OPERAND_START = {
    "bool",
    "char",
    "dot",
    "field",
    "identifier",
    "number",
    "nil",
    "rawstring",
    "string",
    "variable",
    "(",
}


class _Sentinel(_Node):
    """``{{end}}`` or ``{{else}}`` where a list stops."""

    def __init__(self, word: str, item: _Item, chained: str = "") -> None:
        self.word = word
        self.item = item
        self.pos = item.pos
        self.chained = chained


def _describe(it: _Item) -> str:
    """Go's item.String(): EOF, <keyword>, or the quoted text (10 characters at most)."""
    if it.typ == _EOF:
        return "EOF"
    if it.typ in _KEYWORDS or it.typ == "dot":
        return f"<{it.val}>"
    if len(it.val) > 10:
        return go_quote(it.val[:10]) + "..."
    return go_quote(it.val)


_ESC = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
}


def _unquote(text: str) -> str:
    if text.startswith("`"):
        return text[1:-1].replace("\r", "")
    body = text[1:-1]
    out = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        i += 1
        if i >= len(body):
            raise ValueError("invalid syntax")
        e = body[i]
        if e in _ESC:
            if e == "'":
                raise ValueError("invalid syntax")
            out.append(_ESC[e])
            i += 1
        elif e == "x":
            out.append(chr(int(body[i + 1 : i + 3], 16)))
            i += 3
        elif e == "u":
            out.append(chr(int(body[i + 1 : i + 5], 16)))
            i += 5
        elif e == "U":
            out.append(chr(int(body[i + 1 : i + 9], 16)))
            i += 9
        elif e in "01234567":
            out.append(chr(int(body[i : i + 3], 8)))
            i += 3
        else:
            raise ValueError("invalid syntax")
    return "".join(out)


def _unquote_char(text: str) -> str:
    body = text[1:-1]
    if body.startswith("\\"):
        if body == "\\'":
            return "'"
        value = _unquote('"' + body + '"')
    else:
        value = body
    if len(value) != 1:
        raise ValueError(text)
    return value


# ------------------------------------------------------------------------------------------ functions

# Go's builtins; each takes the evaluated arguments (and and/or take thunks: they short-circuit)
_BUILTINS = {
    "and",
    "or",
    "not",
    "len",
    "index",
    "slice",
    "print",
    "printf",
    "println",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "html",
    "js",
    "urlquery",
    "call",
}


class Func:
    """A function a template can call: ``params`` are Go kinds ("string", "int", "[]string", "any"),
    ``variadic`` the kind of the ``...`` parameter. ``fn`` raises ValueError for an error result."""

    def __init__(self, fn: Callable[..., Any], params: list[str], variadic: str | None = None) -> None:
        self.fn = fn
        self.params = params
        self.variadic = variadic


def _kind_ok(kind: str, v: Any) -> bool:
    if kind == "any":
        return True
    if kind == "string":
        return isinstance(v, str)
    if kind == "int":
        return isinstance(v, int) and not isinstance(v, bool)
    if kind == "[]string":
        return (
            v is None
            or isinstance(v, GoNil)
            or (isinstance(v, (list, tuple)) and all(isinstance(x, str) for x in v))
        )
    return True


def _go_kind_name(kind: str) -> str:
    return {"any": "interface {}"}.get(kind, kind)


def _strings_title(s: str) -> str:
    out = []
    prev = " "
    for ch in s:
        out.append(ch.upper() if not (prev.isalnum() or prev == "_" or prev == "'") else ch)
        prev = ch
    return "".join(out)


def _go_split(s: str, sep: str) -> list[str]:
    if sep == "":
        return list(s)
    return s.split(sep)


def _truncate(s: str, n: int) -> str:
    b = s.encode("utf-8", "surrogateescape")
    if n < 0 and len(b) >= n:
        raise ValueError(f"runtime error: slice bounds out of range [:{n}]")
    if len(b) < n:
        return s
    return b[:n].decode("utf-8", "surrogateescape")


def _pad_space(s: str, prefix: int, suffix: int) -> str:
    if s == "":
        return s
    if prefix < 0 or suffix < 0:
        raise ValueError("strings: negative Repeat count")
    return " " * prefix + s + " " * suffix


def docker_funcs() -> dict[str, Func]:
    """docker's templates.basicFunctions (docker CLI v28)."""
    return {
        "json": Func(lambda v: to_json(v, escape_html=isinstance(v, GoObject)), ["any"]),
        "split": Func(_go_split, ["string", "string"]),
        "join": Func(lambda elems, sep: sep.join(elems or []), ["[]string", "string"]),
        "title": Func(_strings_title, ["string"]),
        "lower": Func(lambda s: s.lower(), ["string"]),
        "upper": Func(lambda s: s.upper(), ["string"]),
        "pad": Func(_pad_space, ["string", "int", "int"]),
        "truncate": Func(_truncate, ["string", "int"]),
    }


def header_funcs() -> dict[str, Func]:
    """docker's templates.HeaderFunctions: a table's header keeps the column names as they are."""
    funcs = docker_funcs()
    funcs.update(
        {
            "json": Func(lambda v: v, ["string"]),
            "split": Func(lambda v, _s: v, ["string", "string"]),
            "join": Func(lambda v, _s: v, ["string", "string"]),
            "title": Func(lambda v: v, ["string"]),
            "lower": Func(lambda v: v, ["string"]),
            "upper": Func(lambda v: v, ["string"]),
            "truncate": Func(lambda v, _n: v, ["string", "int"]),
        }
    )
    return funcs


def _html_escape(s: str) -> str:
    return (
        s.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("'", "&#39;")
        .replace('"', "&#34;")
        .replace("\x00", "\ufffd")
    )


def _js_escape(s: str) -> str:
    out = []
    for ch in s:
        if ch == "\\":
            out.append("\\\\")
        elif ch == "'":
            out.append("\\'")
        elif ch == '"':
            out.append('\\"')
        elif ch == "<":
            out.append("\\u003C")
        elif ch == ">":
            out.append("\\u003E")
        elif ch == "&":
            out.append("\\u0026")
        elif ch == "=":
            out.append("\\u003D")
        elif ord(ch) < 0x20 or (ord(ch) >= 0x80 and not ch.isprintable()):
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return "".join(out)


def _urlquery(s: str) -> str:
    out = []
    for b in s.encode("utf-8", "surrogateescape"):
        c = chr(b)
        if c.isascii() and (c.isalnum() or c in "-_.~"):
            out.append(c)
        elif c == " ":
            out.append("+")
        else:
            out.append(f"%{b:02X}")
    return "".join(out)


def _eval_args_string(args: list[Any]) -> str:
    """text/template's evalArgs: one string as it is, else fmt.Sprint (a nil prints <no value>)."""
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return sprint(["<no value>" if a is None or a is NO_VALUE else a for a in args])


_INT, _FLOAT, _STR, _BOOL = "int", "float", "string", "bool"


def _basic_kind(v: Any) -> str | None:
    if isinstance(v, bool):
        return _BOOL
    if isinstance(v, int):
        return _INT
    if isinstance(v, float):
        return _FLOAT
    if isinstance(v, str):
        return _STR
    return None


def _eq(a: Any, *others: Any) -> bool:
    if not others:
        raise ValueError("missing argument for comparison")
    ka = _basic_kind(a)
    for b in others:
        kb = _basic_kind(b)
        if ka != kb:
            valid_a = a is not None and a is not NO_VALUE
            valid_b = b is not None and b is not NO_VALUE
            if valid_a and valid_b:
                raise ValueError("incompatible types for comparison")
            continue
        if ka is None:
            if isinstance(a, (list, tuple, dict)) and not isinstance(a, Struct) and a is not None:
                raise ValueError(f"non-comparable type {format_value(a, False)}: {go_type(a)}")
            if isinstance(b, (list, tuple, dict)) and not isinstance(b, Struct) and b is not None:
                raise ValueError(f"non-comparable type {format_value(b, False)}: {go_type(b)}")
            if (a is None or a is NO_VALUE) and (b is None or b is NO_VALUE):
                return True
            if a == b:
                return True
            continue
        if a == b:
            return True
    return False


def _lt(a: Any, b: Any) -> bool:
    ka, kb = _basic_kind(a), _basic_kind(b)
    if ka is None or kb is None:
        raise ValueError("invalid type for comparison")
    if ka != kb:
        raise ValueError("incompatible types for comparison")
    if ka == _BOOL:
        raise ValueError("invalid type for comparison")
    return bool(a < b)


def _le(a: Any, b: Any) -> bool:
    return _lt(a, b) or _eq(a, b)


def _call(callee: str, fn: Any, *args: Any) -> Any:
    if fn is None or fn is NO_VALUE:
        raise ValueError("call of nil")
    if not callable(fn) or isinstance(fn, (GoObject, Func)):
        raise ValueError(f"non-function {callee} of type {go_type(fn)}")
    return fn(*args)


def _index(item: Any, *indexes: Any) -> Any:
    if isinstance(item, GoNil) and item.kind == "map":
        return ""
    if item is None or item is NO_VALUE:
        raise ValueError("index of untyped nil")
    for ix in indexes:
        if isinstance(item, (list, tuple, str)):
            if not isinstance(ix, int) or isinstance(ix, bool):
                if ix is None:
                    raise ValueError("cannot index slice/array with nil")
                raise ValueError(f"cannot index slice/array with type {go_type(ix)}")
            if isinstance(item, str):
                data = item.encode("utf-8", "surrogateescape")
                if ix < 0 or ix >= len(data):
                    raise ValueError("reflect: string index out of range")
                item = data[ix]
                continue
            if ix < 0 or ix >= len(item):
                raise ValueError(f"index out of range: {ix}")
            item = item[ix]
        elif isinstance(item, dict) and not isinstance(item, Struct):
            if not isinstance(ix, str):
                raise ValueError(f"value has type {go_type(ix)}; should be string")
            item = item[ix] if ix in item else ("" if isinstance(item, StrMap) else None)
        elif item is None:
            raise ValueError("index of nil pointer")
        else:
            raise ValueError(f"can't index item of type {go_type(item)}")
    return item


def _slice(item: Any, *idx: Any) -> Any:
    if item is None or item is NO_VALUE:
        raise ValueError("slice of untyped nil")
    if len(idx) > 3:
        raise ValueError(f"too many slice indexes: {len(idx)}")
    if isinstance(item, str):
        if len(idx) == 3:
            raise ValueError("cannot 3-index slice a string")
        data = item.encode("utf-8", "surrogateescape")
        cap = len(data)
    elif isinstance(item, (list, tuple)):
        data = item  # type: ignore[assignment]
        cap = len(item)
    else:
        raise ValueError(f"can't slice item of type {go_type(item)}")
    ints = []
    for x in idx:
        if not isinstance(x, int) or isinstance(x, bool):
            raise ValueError(f"cannot index slice/array with type {go_type(x)}")
        if x < 0 or x > cap:
            raise ValueError(f"index out of range: {x}")
        ints.append(x)
    start = ints[0] if ints else 0
    end = ints[1] if len(ints) > 1 else len(data)
    if end < start:
        raise ValueError(f"invalid slice index: {start} > {end}")
    part = data[start:end]
    if isinstance(item, str):
        return bytes(part).decode("utf-8", "surrogateescape")
    return list(part)


def _length(v: Any) -> int:
    if isinstance(v, GoNil) and v.kind in ("slice", "map"):
        return 0
    if v is None or v is NO_VALUE or isinstance(v, GoNil):
        raise ValueError("len of nil pointer")
    if isinstance(v, str):
        return len(v.encode("utf-8", "surrogateescape"))
    if isinstance(v, (list, tuple)) or (isinstance(v, dict) and not isinstance(v, Struct)):
        return len(v)
    raise ValueError(f"len of type {go_type(v)}")


_BUILTIN_FUNCS: dict[str, Func] = {
    "and": Func(lambda *a: a[-1], ["any"], "any"),  # short-circuits: see _State.eval_call
    "or": Func(lambda *a: a[-1], ["any"], "any"),
    "not": Func(lambda a: not truth(a), ["any"]),
    "len": Func(_length, ["any"]),
    "index": Func(_index, ["any"], "any"),
    "slice": Func(_slice, ["any"], "any"),
    "print": Func(lambda *a: sprint(list(a)), [], "any"),
    "printf": Func(lambda f, *a: sprintf(f, list(a)), ["string"], "any"),
    "println": Func(lambda *a: sprintln(list(a)), [], "any"),
    "eq": Func(_eq, ["any"], "any"),
    "ne": Func(lambda a, b: not _eq(a, b), ["any", "any"]),
    "lt": Func(_lt, ["any", "any"]),
    "le": Func(_le, ["any", "any"]),
    "gt": Func(lambda a, b: not _le(a, b), ["any", "any"]),
    "ge": Func(lambda a, b: not _lt(a, b), ["any", "any"]),
    "html": Func(lambda *a: _html_escape(_eval_args_string(list(a))), [], "any"),
    "js": Func(lambda *a: _js_escape(_eval_args_string(list(a))), [], "any"),
    "urlquery": Func(lambda *a: _urlquery(_eval_args_string(list(a))), [], "any"),
    "call": Func(_call, ["any"], "any"),
}


# ------------------------------------------------------------------------------------------ execution


class Template:
    """A parsed template: ``execute(data)`` returns the text or raises TemplateError."""

    def __init__(self, text: str, name: str = "", funcs: dict[str, Func] | None = None) -> None:
        self.text = text
        self.name = name
        self.funcs = docker_funcs() if funcs is None else funcs
        parser = _Parser(text, name, self.funcs)
        self.root = parser.parse()
        self.defs = parser.defs

    def execute(self, data: Any, *, missingkey: str = "default", funcs: dict[str, Func] | None = None) -> str:
        """Run the template on ``data``. ``missingkey="error"``: a missing map key is an error."""
        st = _State(self, data, missingkey, funcs or self.funcs)
        try:
            st.walk(data, self.root)
        except TemplateError as err:
            err.partial = "".join(st.out)  # type: ignore[attr-defined]  # what Go had written
            raise
        return "".join(st.out)

    def execute_partial(self, data: Any, funcs: dict[str, Func] | None = None) -> str:
        """What Go writes before an error (docker's table header ignores the error)."""
        st = _State(self, data, "default", funcs or self.funcs)
        try:
            st.walk(data, self.root)
        except TemplateError:
            pass
        return "".join(st.out)


class _State:
    def __init__(self, tmpl: Template, data: Any, missingkey: str, funcs: dict[str, Func]) -> None:
        self.tmpl = tmpl
        self.out: list[str] = []
        self.vars: list[tuple[str, Any]] = [("$", data)]
        self.missingkey = missingkey
        self.funcs = funcs
        self.node: _Node | None = None
        self.depth = 0
        self.exec_name = tmpl.name  # the template being executed (a {{define}}d one inside {{template}})

    def at(self, node: _Node) -> None:
        self.node = node

    def errorf(self, msg: str) -> None:
        node = self.node
        text = self.tmpl.text
        if node is None:
            raise _Exec(f"template: {self.tmpl.name}: {msg}")
        pos = node.pos
        before = text[:pos]
        nl = before.rfind("\n")
        col = pos if nl < 0 else pos - nl - 1
        line = 1 + before.count("\n")
        ctx = node.go()
        where = f"{self.tmpl.name}:{line}:{col}"
        raise _Exec(f"template: {where}: executing {json.dumps(self.exec_name)} at <{ctx}>: {msg}")

    # ---- variables
    def mark(self) -> int:
        return len(self.vars)

    def pop(self, mark: int) -> None:
        del self.vars[mark:]

    def set_var(self, name: str, value: Any) -> None:
        for i in range(len(self.vars) - 1, -1, -1):
            if self.vars[i][0] == name:
                self.vars[i] = (name, value)
                return
        self.errorf(f"undefined variable: {name}")

    def var_value(self, name: str) -> Any:
        for i in range(len(self.vars) - 1, -1, -1):
            if self.vars[i][0] == name:
                return self.vars[i][1]
        self.errorf(f"undefined variable: {name}")

    # ---- walking
    def walk(self, dot: Any, node: _Node) -> None:
        self.at(node)
        if isinstance(node, _Text):
            self.out.append(node.text)
        elif isinstance(node, _Action):
            val = self.eval_pipeline(dot, node.pipe)
            if not node.pipe.decls:
                self.print_value(node, val)
        elif isinstance(node, _List):
            for n in node.nodes:
                self.walk(dot, n)
        elif isinstance(node, _If):
            self.walk_if_or_with(node, dot, is_with=False)
        elif isinstance(node, _With):
            self.walk_if_or_with(node, dot, is_with=True)
        elif isinstance(node, _Range):
            self.walk_range(dot, node)
        elif isinstance(node, _BreakNode):
            raise _Break()
        elif isinstance(node, _ContinueNode):
            raise _Continue()
        elif isinstance(node, _TemplateCall):
            self.walk_template(dot, node)
        else:
            self.errorf(f"unknown node: {node!r}")

    def walk_if_or_with(self, node: _Branch, dot: Any, is_with: bool) -> None:
        mark = self.mark()
        val = self.eval_pipeline(dot, node.pipe)
        ok = truth(val)
        if ok:
            self.walk(val if is_with else dot, node.body)
        elif node.else_ is not None:
            self.walk(dot, node.else_)
        self.pop(mark)

    def walk_range(self, dot: Any, node: _Range) -> None:
        self.at(node)
        mark = self.mark()
        val = self.eval_pipeline(dot, node.pipe)
        self.pop(mark)  # the pipeline's own variables are set per element below
        items: list[tuple[Any, Any]]
        if isinstance(val, (list, tuple)):
            items = list(enumerate(val))
        elif isinstance(val, dict) and not isinstance(val, Struct):
            items = [(k, val[k]) for k in _sorted_keys(val)]
        elif isinstance(val, int) and not isinstance(val, bool):
            if node.pipe.decls and len(node.pipe.decls) > 1:
                self.errorf(f"can't use {val} to iterate over more than one variable")
            items = [(i, i) for i in range(val)]
        elif val is None or val is NO_VALUE or isinstance(val, GoNil):
            items = []
        else:
            self.errorf(f"range can't iterate over {format_value(val, False)}")
            return
        if not items:
            if node.else_ is not None:
                self.walk(dot, node.else_)
            return
        for key, elem in items:
            m = self.mark()
            decls = node.pipe.decls
            if decls:
                if node.pipe.is_assign:
                    if len(decls) == 1:
                        self.set_var(decls[0], elem)
                    else:
                        self.set_var(decls[0], key)
                        self.set_var(decls[1], elem)
                elif len(decls) == 1:
                    self.vars.append((decls[0], elem))
                else:
                    self.vars.append((decls[0], key))
                    self.vars.append((decls[1], elem))
            try:
                self.walk(elem, node.body)
            except _Continue:
                pass
            except _Break:
                self.pop(m)
                break
            self.pop(m)

    def walk_template(self, dot: Any, node: _TemplateCall) -> None:
        self.at(node)
        body = self.tmpl.defs.get(node.name)
        if body is None:
            self.errorf(f"template {json.dumps(node.name)} not defined")
            return
        new_dot = self.eval_pipeline(dot, node.pipe) if node.pipe else None
        saved, saved_name = self.vars, self.exec_name
        self.depth += 1
        try:
            # Go stops at a depth of 100000; Python's stack ends sooner: the same error, earlier
            if self.depth > 150:
                raise RecursionError
            self.vars = [("$", new_dot)]
            self.exec_name = node.name
            self.walk(new_dot, body)
        except RecursionError:
            self.exec_name = saved_name
            self.at(node)
            self.errorf("exceeded maximum template depth (100000)")
        finally:
            self.vars, self.exec_name = saved, saved_name
            self.depth -= 1

    def print_value(self, node: _Node, v: Any) -> None:
        self.at(node)
        if callable(v) and not isinstance(v, GoObject):
            self.errorf(f"can't print {node.go()} of type func")
        self.out.append(format_value(v))

    # ---- evaluation
    def eval_pipeline(self, dot: Any, pipe: _Pipe) -> Any:
        self.at(pipe)
        value: Any = _NOFINAL
        for cmd in pipe.cmds:
            value = self.eval_command(dot, cmd, value)
            if value is None:  # a nil interface{} (a JSON null in a map) is no value, as in Go
                value = NO_VALUE
        for name in pipe.decls:
            if pipe.is_assign:
                self.set_var(name, value)
            else:
                self.vars.append((name, value))
        return value

    def eval_command(self, dot: Any, cmd: _Command, final: Any) -> Any:
        first = cmd.args[0]
        if isinstance(first, _Field):
            return self.eval_field_node(dot, first, cmd.args, final)
        if isinstance(first, _Chain):
            return self.eval_chain(dot, first, cmd.args, final)
        if isinstance(first, _Identifier):
            return self.eval_function(dot, first, cmd, cmd.args, final)
        if isinstance(first, _Pipe):
            self.not_function(cmd.args, final)
            return self.eval_pipeline(dot, first)
        if isinstance(first, _Variable):
            return self.eval_variable(dot, first, cmd.args, final)
        self.at(first)
        self.not_function(cmd.args, final)
        if isinstance(first, _Bool):
            return first.value
        if isinstance(first, _Dot):
            return dot
        if isinstance(first, _Nil):
            self.errorf("nil is not a command")
        if isinstance(first, _Number):
            return self.number_value(first)
        if isinstance(first, _String):
            return first.value
        self.errorf(f"can't evaluate command {first.go()!r}")

    def number_value(self, node: _Number) -> Any:
        if node.is_int and node.value >= 2**63:
            self.errorf(f"{node.text} overflows int")
        return node.value

    def not_function(self, args: list[_Node], final: Any) -> None:
        if len(args) > 1 or final is not _NOFINAL:
            self.errorf(f"can't give argument to non-function {args[0].go()}")

    def eval_field_node(self, dot: Any, field: _Field, args: list[_Node], final: Any) -> Any:
        self.at(field)
        return self.eval_field_chain(dot, dot, field, field.idents, args, final)

    def eval_chain(self, dot: Any, chain: _Chain, args: list[_Node], final: Any) -> Any:
        if not chain.fields:
            self.errorf("internal error: no fields in evalChainNode")
        if isinstance(chain.node, _Nil):
            self.errorf(f"indirection through explicit nil in {chain.go()}")
        pipe = self.eval_arg(dot, chain.node)
        return self.eval_field_chain(dot, pipe, chain, chain.fields, args, final)

    def eval_variable(self, dot: Any, var: _Variable, args: list[_Node], final: Any) -> Any:
        self.at(var)
        value = self.var_value(var.idents[0])
        if len(var.idents) == 1:
            self.not_function(args, final)
            return value
        return self.eval_field_chain(dot, value, var, var.idents[1:], args, final)

    def eval_field_chain(
        self, dot: Any, receiver: Any, node: _Node, idents: list[str], args: list[_Node], final: Any
    ) -> Any:
        n = len(idents)
        for i in range(n - 1):
            receiver = self.eval_field(dot, idents[i], node, [], _NOFINAL, receiver)
        return self.eval_field(dot, idents[n - 1], node, args, final, receiver)

    def eval_field(
        self, dot: Any, name: str, node: _Node, args: list[_Node], final: Any, receiver: Any
    ) -> Any:
        if receiver is NO_VALUE:
            if self.missingkey == "error":
                self.errorf(f"nil data; no entry for key {json.dumps(name)}")
            return NO_VALUE
        if receiver is None:
            self.errorf(f"nil pointer evaluating interface {{}}.{name}")
        if isinstance(receiver, GoNil):
            if receiver.kind == "map":  # a nil map has no keys
                if self.missingkey == "error":
                    self.errorf(f"map has no entry for key {json.dumps(name)}")
                return NO_VALUE
            if receiver.kind == "ptr":
                self.errorf(f"nil pointer evaluating {go_type(receiver)}.{name}")
        if isinstance(receiver, GoObject):
            method = receiver.go_method(name)
            if method is not None:
                return self.eval_call(dot, method, node, name, args, final)
            self.errorf(f"can't evaluate field {name} in type {receiver.go_type}")
        if isinstance(receiver, HeaderMap) and name == "Label":
            return self.eval_call(dot, receiver.Label, node, name, args, final)
        has_args = len(args) > 1 or final is not _NOFINAL
        if isinstance(receiver, Struct):
            if name in receiver:
                if has_args:
                    self.errorf(f"{name} has arguments but cannot be invoked as function")
                return receiver[name]
            self.errorf(f"can't evaluate field {name} in type {receiver.go_type}")
        if isinstance(receiver, dict):
            if has_args:
                self.errorf(f"{name} is not a method but has arguments")
            if name in receiver:
                return receiver[name]
            if self.missingkey == "error":
                self.errorf(f"map has no entry for key {json.dumps(name)}")
            if self.missingkey == "zero":
                return "" if isinstance(receiver, StrMap) else None
            return NO_VALUE
        self.errorf(f"can't evaluate field {name} in type {go_type(receiver)}")

    def eval_function(
        self, dot: Any, ident: _Identifier, cmd: _Command, args: list[_Node], final: Any
    ) -> Any:
        self.at(ident)
        name = ident.name
        fn = self.funcs.get(name) or _BUILTIN_FUNCS.get(name)
        if fn is None:
            self.errorf(f"{json.dumps(name)} is not a defined function")
        builtin = name not in self.funcs
        return self.eval_call(
            dot,
            fn,
            cmd,
            name,
            args,
            final,
            builtin=builtin and name in ("and", "or"),
            builtin_call=builtin and name == "call",
        )

    def eval_call(
        self,
        dot: Any,
        fn: Any,
        node: _Node,
        name: str,
        args: list[_Node],
        final: Any,
        builtin: bool = False,
        builtin_call: bool = False,
    ) -> Any:
        """A Func (typed parameters) or a GoObject's method (its Python signature). Errors point at
        ``node`` (the command for a function, the field for a method), as Go's do."""
        if isinstance(fn, Func):
            params, variadic, call = fn.params, fn.variadic, fn.fn
        else:
            params = ["any"] * _positional_count(fn)
            variadic = None
            call = fn
        n_args = len(args) - 1 + (0 if final is _NOFINAL else 1)
        if variadic is not None and n_args < len(params):
            self.errorf(f"wrong number of args for {name}: want at least {len(params)} got {n_args}")
        if variadic is None and n_args != len(params):
            self.errorf(f"wrong number of args for {name}: want {len(params)} got {n_args}")
        if builtin:  # and/or: evaluate left to right, stop at the first false (and) or true (or) operand
            value: Any = None
            for a in args[1:]:
                value = self.eval_arg(dot, a)
                if truth(value) == (name == "or"):
                    return value
            if final is not _NOFINAL:
                value = final
            return value
        vals: list[Any] = []
        for i, a in enumerate(args[1:]):
            kind = params[i] if i < len(params) else (variadic or "any")
            vals.append(self.eval_typed_arg(dot, a, kind))
        if final is not _NOFINAL:
            kind = params[len(vals)] if len(vals) < len(params) else (variadic or "any")
            vals.append(self.validate(final, kind))
        if builtin_call:  # Go passes call the callee's text, for its message
            vals.insert(0, args[1].go() if len(args) > 1 else "")
        try:
            return call(*vals)
        except TemplateError:
            raise
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError) as err:
            # an error result or a panic: text/template reports both as "error calling NAME: ..."
            self.at(node)
            self.errorf(f"error calling {name}: {err}")

    def validate(self, v: Any, kind: str) -> Any:
        """Go's validateType: a missing value is nil where nil fits, an error elsewhere."""
        if v is NO_VALUE:
            if kind in ("any", "[]string"):
                return None
            self.errorf(f"invalid value; expected {kind}")
        if not _kind_ok(kind, v):
            self.errorf(f"wrong type for value; expected {_go_kind_name(kind)}; got {go_type(v)}")
        return v

    def eval_typed_arg(self, dot: Any, node: _Node, kind: str) -> Any:
        self.at(node)
        if isinstance(node, _Number) and kind in ("string",):
            self.errorf(f"expected string; found {node.go()}")
        if isinstance(node, _String) and kind == "int":
            self.errorf(f"expected integer; found {node.go()}")
        if isinstance(node, _Bool) and kind in ("string", "int"):
            self.errorf(f"expected {'string' if kind == 'string' else 'integer'}; found {node.go()}")
        if isinstance(node, _Number) and kind == "int" and not node.is_int:
            if node.value != int(node.value):  # Go takes 3.0 where it wants an int
                self.errorf(f"expected integer; found {node.go()}")
            return int(node.value)
        if isinstance(node, (_String, _Number, _Bool)) and kind == "[]string":
            self.errorf(f"can't handle {node.go()} for arg of type []string")
        if isinstance(node, _Nil) and kind in ("string", "int"):
            self.errorf(f"cannot assign nil to {kind}")
        v = self.eval_arg(dot, node)
        self.at(node)
        return self.validate(v, kind)

    def eval_arg(self, dot: Any, node: _Node) -> Any:
        self.at(node)
        if isinstance(node, _Dot):
            return dot
        if isinstance(node, _Nil):
            return None
        if isinstance(node, _Field):
            return self.eval_field_node(dot, node, [node], _NOFINAL)
        if isinstance(node, _Variable):
            return self.eval_variable(dot, node, [], _NOFINAL)
        if isinstance(node, _Pipe):
            return self.eval_pipeline(dot, node)
        if isinstance(node, _Identifier):
            return self.eval_function(dot, node, _Command([node], node.pos), [node], _NOFINAL)
        if isinstance(node, _Chain):
            return self.eval_chain(dot, node, [], _NOFINAL)
        if isinstance(node, _Bool):
            return node.value
        if isinstance(node, _Number):
            return self.number_value(node)
        if isinstance(node, _String):
            return node.value
        self.errorf(f"can't handle {node.go()} for arg")


class _NoFinal:
    pass


_NOFINAL: Any = _NoFinal()


def parse(text: str, name: str = "", funcs: dict[str, Func] | None = None) -> Template:
    """Parse a template with docker's functions (or ``funcs``); TemplateError with Go's message."""
    return Template(text, name, funcs)


def _positional_count(fn: Any) -> int:
    """How many positional-or-keyword parameters a method takes (``inspect.signature``'s count, without
    importing inspect: ~6 ms of every ``ps`` and ``images`` that prints a row)."""
    func = getattr(fn, "__func__", fn)
    code = getattr(func, "__code__", None)
    if code is None or code.co_posonlyargcount:
        import inspect

        sig = inspect.signature(fn)
        return sum(1 for p in sig.parameters.values() if p.kind is p.POSITIONAL_OR_KEYWORD)
    bound = func is not fn and getattr(fn, "__self__", None) is not None
    return int(code.co_argcount) - (1 if bound else 0)
