"""Records: core's plain data classes, declared like dataclasses but free to define.

``dataclasses`` compiles an ``__init__``, ``__repr__`` and ``__eq__`` from source for every class
(``exec``: ~0.35 ms a class on this kind of machine) and imports ``inspect`` with it (~3.5 ms). ``dockyard
run`` imports 28 of core's data classes, so a ~70 ms run spent ~14 ms just defining them. :func:`record`
takes the same declarations (annotations, class-level defaults, :func:`field` with ``default`` or
``default_factory``) and gives the same behaviour for what core uses (positional and keyword
construction, ``frozen``, ``eq`` with dataclasses' hashing rules, a dataclass-style ``repr``,
:func:`asdict`, :func:`replace`), with methods that are closures over one tuple of fields instead of
compiled source. Type checkers see dataclasses (PEP 681 ``dataclass_transform``).

Not supported, because core does not use them: ``kw_only``, ``order``, ``slots``, ``InitVar``, per-field
``init``/``compare``, inheritance between records.

This module imports nothing at run time (not even ``typing``, ~2 ms), for the same reason.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; mypy and ruff know the name
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any, TypeVar, dataclass_transform

    _T = TypeVar("_T")
else:

    def dataclass_transform(**_kwargs):
        return lambda func: func


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class FrozenInstanceError(AttributeError):
    """Assigning to (or deleting) a field of a frozen record, as ``dataclasses.FrozenInstanceError``."""


class Field:
    """One field: its name, where its default comes from (``default`` or a ``default_factory``) and whether
    ``repr`` shows it (not a password's)."""

    __slots__ = ("default", "default_factory", "name", "repr")

    def __init__(
        self, default: Any = MISSING, default_factory: Callable[[], Any] | None = None, repr: bool = True
    ) -> None:
        if default is not MISSING and default_factory is not None:
            raise ValueError("cannot specify both default and default_factory")
        self.name = ""
        self.default = default
        self.default_factory = default_factory
        self.repr = repr

    @property
    def required(self) -> bool:
        return self.default is MISSING and self.default_factory is None

    def __repr__(self) -> str:
        return (
            f"Field(name={self.name!r}, default={self.default!r}, default_factory={self.default_factory!r})"
        )


def field(
    *, default: Any = MISSING, default_factory: Callable[[], Any] | None = None, repr: bool = True
) -> Any:
    """A field's default when a plain class-level value will not do (``default_factory`` for mutable ones), or
    a field ``repr`` leaves out."""
    return Field(default, default_factory, repr)


def fields(obj_or_cls: object) -> tuple[Field, ...]:
    """A record's fields in declaration order (as ``dataclasses.fields``)."""
    try:
        return obj_or_cls.__record_fields__  # type: ignore[attr-defined]
    except AttributeError:
        raise TypeError(f"{obj_or_cls!r} is not a record") from None


def field_names(obj_or_cls: object) -> frozenset[str]:
    """The names of a record's fields: to keep the known keys of a stored dict written by another version."""
    return frozenset(f.name for f in fields(obj_or_cls))


def known_fields(cls: type, data: Mapping[str, Any]) -> dict[str, Any]:
    """The items of ``data`` that are fields of ``cls``: a stored record read back by a version of dockyard
    that knows fewer fields than the one that wrote it."""
    names = field_names(cls)
    return {k: v for k, v in data.items() if k in names}


def is_record(obj: object) -> bool:
    return hasattr(obj, "__record_fields__")


def asdict(obj: object) -> dict[str, Any]:
    """A record as a dict, records, lists, tuples and dicts inside it converted too (new containers; other
    values are shared, not deep-copied as ``dataclasses.asdict`` does: core's leaves are immutable)."""
    if not is_record(obj) or isinstance(obj, type):
        raise TypeError("asdict() should be called on record instances")
    return {f.name: _plain(getattr(obj, f.name)) for f in fields(obj)}


def _plain(value: Any) -> Any:
    if is_record(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    return value


def replace(obj: _T, /, **changes: Any) -> _T:
    """A copy of ``obj`` with ``changes`` applied, checked by its ``__init__`` (``dataclasses.replace``)."""
    values = {f.name: getattr(obj, f.name) for f in fields(obj)}
    unknown = changes.keys() - values.keys()
    if unknown:
        raise TypeError(f"{type(obj).__name__} has no field {sorted(unknown)[0]!r}")
    values.update(changes)
    return type(obj)(**values)


@dataclass_transform(field_specifiers=(field, Field))
def record(cls: type[_T] | None = None, /, *, frozen: bool = False, eq: bool = True) -> Any:
    """Make ``cls`` a record: ``@record`` or ``@record(frozen=True, eq=False)``, as ``@dataclass``."""

    def wrap(cls: type[_T]) -> type[_T]:
        return _process(cls, frozen=frozen, eq=eq)

    return wrap if cls is None else wrap(cls)


def _collect(cls: type) -> tuple[Field, ...]:
    out: list[Field] = []
    # inspect.get_annotations would import inspect, the cost this module exists to avoid
    for name, annotation in cls.__dict__.get("__annotations__", {}).items():  # noqa: RUF063
        # annotations are strings here (every core module has `from __future__ import annotations`)
        if str(annotation).startswith(("ClassVar", "typing.ClassVar")):
            continue
        value = cls.__dict__.get(name, MISSING)
        spec = value if isinstance(value, Field) else Field(default=value)
        if isinstance(spec.default, (list, dict, set)):
            raise ValueError(
                f"mutable default {type(spec.default).__name__} for field {name}: use default_factory"
            )
        spec.name = name
        if spec.default is MISSING and name in cls.__dict__:
            delattr(cls, name)  # a factory field: instances get their own value, the class keeps none
        elif isinstance(value, Field):
            setattr(cls, name, spec.default)
        if spec.required and out and not out[-1].required:
            raise TypeError(f"non-default argument {name!r} follows default argument")
        out.append(spec)
    return tuple(out)


def _process(cls: type[_T], *, frozen: bool, eq: bool) -> type[_T]:
    specs = _collect(cls)
    names = tuple(f.name for f in specs)
    known = frozenset(names)
    shown = tuple(f.name for f in specs if f.repr)
    post_init = getattr(cls, "__post_init__", None)
    setter = object.__setattr__
    qualname = cls.__qualname__

    count = len(names)

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if not kwargs and len(args) == count:  # every field, in order: nothing to check or default
            for name, value in zip(names, args, strict=True):
                setter(self, name, value)
            if post_init is not None:
                post_init(self)
            return
        if len(args) > len(names):
            raise TypeError(
                f"{qualname}() takes {len(names)} positional arguments but {len(args)} were given"
            )
        for i in range(len(args)):
            if names[i] in kwargs:
                raise TypeError(f"{qualname}() got multiple values for argument {names[i]!r}")
        for key in kwargs:
            if key not in known:
                raise TypeError(f"{qualname}() got an unexpected keyword argument {key!r}")
        missing = []
        for i, spec in enumerate(specs):
            if i < len(args):
                value = args[i]
            elif spec.name in kwargs:
                value = kwargs[spec.name]
            elif spec.default_factory is not None:
                value = spec.default_factory()
            elif spec.default is not MISSING:
                value = spec.default
            else:
                missing.append(spec.name)
                continue
            setter(self, spec.name, value)
        if missing:
            raise TypeError(f"{qualname}() missing required argument(s): {', '.join(map(repr, missing))}")
        if post_init is not None:
            post_init(self)

    def __repr__(self: Any) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in shown)
        return f"{type(self).__qualname__}({inner})"

    def _values(self: Any) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in names)

    methods: dict[str, Any] = {"__init__": __init__, "__repr__": __repr__}
    # dataclasses' rules: a class's own __hash__ stays; otherwise frozen and compared by value hashes its
    # values, mutable and compared by value is unhashable (the implicit None a class with __eq__ gets is
    # not "its own")
    own_hash = cls.__dict__.get("__hash__") is not None
    if eq:

        def __eq__(self: Any, other: object) -> bool:
            if other.__class__ is not self.__class__:
                return NotImplemented
            return _values(self) == _values(other)

        methods["__eq__"] = __eq__
        if frozen:

            def __hash__(self: Any) -> int:
                return hash(_values(self))

            if not own_hash:
                methods["__hash__"] = __hash__
        elif not own_hash:
            methods["__hash__"] = None
    if frozen:

        def __setattr__(self: Any, name: str, value: Any) -> None:
            raise FrozenInstanceError(f"cannot assign to field {name!r}")

        def __delattr__(self: Any, name: str) -> None:
            raise FrozenInstanceError(f"cannot delete field {name!r}")

        methods["__setattr__"] = __setattr__
        methods["__delattr__"] = __delattr__
    for name, method in methods.items():
        if name != "__hash__" and name in cls.__dict__:
            continue  # the class wrote its own: dataclasses keeps a user-defined __repr__/__eq__ too
        if callable(method):
            method.__qualname__ = f"{qualname}.{name}"
        setattr(cls, name, method)
    cls.__record_fields__ = specs  # type: ignore[attr-defined]
    cls.__match_args__ = names  # type: ignore[attr-defined,misc]
    return cls
