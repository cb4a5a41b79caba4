"""core.record against the dataclasses it stands in for: same declarations, same behaviour for what core
uses."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.record import FrozenInstanceError, asdict, field, field_names, known_fields, record, replace


@record
class Point:
    x: int
    y: int = 0
    tags: list[str] = field(default_factory=list)


@dataclasses.dataclass
class DataPoint:
    x: int
    y: int = 0
    tags: list[str] = dataclasses.field(default_factory=list)


@record(frozen=True)
class Frozen:
    name: str
    inner: Point | None = None
    secret: str = field(default="", repr=False)
    KIND: ClassVar[str] = "frozen"


@record(eq=False)
class ByIdentity:
    value: int


def test_construction_positional_keyword_and_defaults() -> None:
    assert (Point(1).x, Point(1).y, Point(1).tags) == (1, 0, [])
    assert Point(1, 2, ["a"]) == Point(x=1, y=2, tags=["a"])
    assert Point(1).tags is not Point(1).tags  # a factory per instance, not a shared default
    assert Point.y == 0  # a plain default stays on the class, as dataclasses leave it
    assert not hasattr(Point, "tags")  # a factory field leaves nothing on the class


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((), {}, "missing required argument(s): 'x'"),
        ((1, 2, [], 4), {}, "takes 3 positional arguments but 4 were given"),
        ((1,), {"z": 1}, "unexpected keyword argument 'z'"),
        ((1,), {"x": 2}, "multiple values for argument 'x'"),
    ],
)
def test_bad_calls_raise_type_error(args: tuple[Any, ...], kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(TypeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Point(*args, **kwargs)


def test_frozen_records_refuse_assignment_and_hash_by_value() -> None:
    f = Frozen("a")
    with pytest.raises(FrozenInstanceError):
        f.name = "b"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del f.name  # type: ignore[misc]
    assert hash(Frozen("a")) == hash(Frozen("a"))
    assert {Frozen("a"), Frozen("a"), Frozen("b")} == {Frozen("a"), Frozen("b")}
    assert "KIND" not in field_names(Frozen)  # ClassVar is not a field


def test_mutable_records_compared_by_value_are_unhashable_and_eq_false_is_identity() -> None:
    with pytest.raises(TypeError):
        hash(Point(1))
    a, b = ByIdentity(1), ByIdentity(1)
    assert a != b and a == a
    assert len({a, b}) == 2
    assert Point(1) != DataPoint(1)  # another class, even with the same fields


def test_repr_as_dataclasses_and_hides_repr_false_fields() -> None:
    assert repr(Point(1, 2, ["a"])) == repr(DataPoint(1, 2, ["a"])).replace("DataPoint", "Point")
    shown = repr(Frozen("a", secret="hunter2"))
    assert "hunter2" not in shown and shown == "Frozen(name='a', inner=None)"


def test_asdict_converts_nested_records_and_copies_containers() -> None:
    inner = Point(1, tags=["t"])
    f = Frozen("n", inner)
    d = asdict(f)
    assert d == {"name": "n", "inner": {"x": 1, "y": 0, "tags": ["t"]}, "secret": ""}
    d["inner"]["tags"].append("u")
    assert inner.tags == ["t"]
    with pytest.raises(TypeError):
        asdict(Point)


def test_replace_checks_fields() -> None:
    p = Point(1, 2)
    q = replace(p, y=3)
    assert (q.x, q.y, p.y) == (1, 3, 2)
    with pytest.raises(TypeError, match="no field 'z'"):
        replace(p, z=1)


def test_definition_errors_as_dataclasses() -> None:
    with pytest.raises(ValueError, match="mutable default"):

        @record
        class Bad:
            items: list[int] = []

    with pytest.raises(TypeError, match="non-default argument 'b' follows default argument"):

        @record
        class Order:
            a: int = 0
            b: int  # type: ignore[misc]

    with pytest.raises(ValueError):
        field(default=1, default_factory=int)


def test_post_init_and_own_methods_are_kept() -> None:
    @record
    class Checked:
        n: int

        def __post_init__(self) -> None:
            if self.n < 0:
                raise ValueError("negative")

        def __repr__(self) -> str:
            return f"<{self.n}>"

    with pytest.raises(ValueError):
        Checked(-1)
    assert repr(Checked(2)) == "<2>"


def test_known_fields_keeps_only_this_versions_fields() -> None:
    assert known_fields(Point, {"x": 1, "later": True}) == {"x": 1}
    assert Point(**known_fields(Point, {"x": 1, "y": 2, "later": True})) == Point(1, 2)


@given(st.integers(), st.integers(), st.lists(st.text(max_size=5), max_size=4))
def test_behaves_as_the_dataclass(x: int, y: int, tags: list[str]) -> None:
    r, d = Point(x, y, tags), DataPoint(x, y, tags)
    assert asdict(r) == dataclasses.asdict(d)
    assert repr(r) == repr(d).replace("DataPoint", "Point")
    assert (r == Point(x, y, list(tags))) == (d == DataPoint(x, y, list(tags)))
    assert replace(r, y=y + 1) == Point(x, y + 1, tags)
    assert Point.__match_args__ == DataPoint.__match_args__
