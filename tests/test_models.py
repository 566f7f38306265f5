"""The hand-written value classes: their dunders act as the ones attrs would write."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import attrs
import pytest

from dockspec import containers, models
from dockspec.containers import ParsedList
from dockspec.env import Env
from dockspec.models import Ambiguous, ContainerInfo, Found, Limits, NotFound, Protocol

# Names a hand-written dunder may read besides the fields.
NOT_FIELDS = {"__class__", "__qualname__", "hash", "NotImplemented"}
ORDERING = ("__lt__", "__le__", "__gt__", "__ge__")

A = ContainerInfo("a" * 64, "web", "nginx:1")
B = ContainerInfo("b" * 64, "db", "", daemon="unix:///var/run/docker.sock")
C = ContainerInfo("a" * 64, "web", "nginx:1", daemon="unix:///run/podman/podman.sock")
D = ContainerInfo("a" * 64, "api", "nginx:1")


def _values() -> dict[type, list[Any]]:
    """Varied values of each class whose __repr__, __eq__ and __hash__ (and ordering) are written as source."""
    return {
        ContainerInfo: [
            A, B, C, D, ContainerInfo("a" * 64, "web", "nginx:1"), ContainerInfo("", "", ""),
            ContainerInfo("a" * 64, "api", "zz:9"),  # against A: name and image order disagree
            ContainerInfo("a" * 64, "web", "nginx:1", daemon="unix:///var/run/docker.sock"),  # against C: daemon only
        ],
        Found: [Found(A), Found(B), Found(ContainerInfo("a" * 64, "web", "nginx:1"))],
        NotFound: [NotFound(), models.NOT_FOUND],
        Ambiguous: [Ambiguous((A, B)), Ambiguous((B, A)), Ambiguous((A, B)), Ambiguous(())],
        Limits: [Limits(), Limits(deadline=3), Limits(deadline=0.5), Limits(max_bindings=10, max_body_bytes=1)],
        ParsedList: [ParsedList((A,), {(None, 80, Protocol.TCP): A}), ParsedList((A,), {(None, 80, Protocol.TCP): A}),
                     ParsedList((), {}), ParsedList((A, B), {})],
        Env: [Env(), Env(platform="darwin", uid=501, home="/Users/me", environ={"DOCKER_HOST": "tcp://h:1"}),
              Env(platform="darwin", uid=501, home="/Users/me", environ={"DOCKER_HOST": "tcp://h:1"}),
              Env(xdg_runtime_dir="/run/user/1000", xdg_data_home="/d")],
    }


ORDERED = {ContainerInfo}


def _attrs_twin(cls: type) -> type:
    """`cls` rebuilt from its attrs fields, with every dunder written by attrs (same name and qualname)."""
    fields = attrs.fields(cls)
    assert all(f.eq_key is None and f.order_key is None for f in fields), "a key function: extend _attrs_twin"
    these = {
        f.name: attrs.field(default=f.default, validator=f.validator, repr=f.repr, eq=f.eq, order=f.order,
                            hash=f.hash, init=f.init, converter=f.converter, kw_only=f.kw_only, alias=f.alias)
        for f in fields
    }
    twin = attrs.make_class(cls.__name__, these, frozen=True, slots=True, order=cls in ORDERED)
    twin.__qualname__ = cls.__qualname__
    twin.__module__ = cls.__module__
    assert twin.__eq__.__code__.co_filename.startswith("<attrs generated")
    return twin


def _outcome(call: Callable[..., object], *args: object) -> object:
    """call(*args), or TypeError when it raises one (unhashable, unordered)."""
    try:
        return call(*args)
    except TypeError:
        return TypeError


def _read_fields(cls: type, name: str) -> set[str]:
    """The fields the dunder `name` of `cls` reads (self.x or other.x); any other name fails."""
    names = set(vars(cls)[name].__code__.co_names) - NOT_FIELDS
    assert names <= {f.name for f in attrs.fields(cls)}, (name, names)
    return names


def _changed(field: attrs.Attribute[Any]) -> object:
    """A value no other value equals (a mapping when the field converts it to one)."""
    return {"changed": "1"} if field.converter is not None else object()


@pytest.mark.parametrize("cls", list(_values()), ids=lambda cls: cls.__name__)
def test_hand_written_dunders_behave_as_attrs_ones(cls: type) -> None:
    """repr, ==, !=, hash and ordering of each class agree with its attrs-written twin on varied values,
    and each dunder reads exactly the fields attrs would (a field added later cannot be left out)."""
    fields = attrs.fields(cls)
    dunders = ("__repr__", "__eq__", "__hash__", *(ORDERING if cls in ORDERED else ()))
    for name in dunders:
        assert name in vars(cls), name
        assert not vars(cls)[name].__code__.co_filename.startswith("<attrs"), name
    assert _read_fields(cls, "__repr__") == {f.name for f in fields if f.repr}
    assert _read_fields(cls, "__eq__") == {f.name for f in fields if f.eq}
    assert _read_fields(cls, "__hash__") == {f.name for f in fields if (f.eq if f.hash is None else f.hash)}
    for name in ORDERING if cls in ORDERED else ():
        assert _read_fields(cls, name) == {f.name for f in fields if f.order}, name
    if cls not in ORDERED:
        assert not set(ORDERING) & set(vars(cls))

    twin = _attrs_twin(cls)
    values = _values()[cls]

    def twin_of(value: Any) -> Any:
        return twin(**{f.alias: getattr(value, f.name) for f in fields})

    for value in values:
        other = twin_of(value)
        assert repr(other) == repr(value)
        assert (_outcome(hash, value) is TypeError) == (_outcome(hash, other) is TypeError)
        assert value.__eq__(object()) is NotImplemented
        assert value.__eq__(other) is NotImplemented
        assert value != other
        copy = attrs.evolve(value)
        assert value == copy
        assert not value != copy  # noqa: SIM202 (both operators are under test)
        if _outcome(hash, value) is not TypeError:
            assert hash(value) == hash(copy)
        for field in fields:
            changed = attrs.evolve(value, **{field.alias: _changed(field)})
            assert (value == changed) is (not field.eq), field.name
            assert (value != changed) is field.eq, field.name
            assert (twin_of(changed) == other) is (not field.eq), field.name
            if field.eq and _outcome(hash, value) is not TypeError:
                assert hash(changed) != hash(value), field.name  # the field takes part in the hash
        for right in values:
            for op in (operator.eq, operator.ne, operator.lt, operator.le, operator.gt, operator.ge):
                mine = _outcome(op, value, right)
                theirs = _outcome(op, other, twin_of(right))
                assert mine == theirs, (op, value, right)
            if value == right and _outcome(hash, value) is not TypeError:
                assert hash(value) == hash(right)


def test_hashing_and_ordering_of_container_info() -> None:
    """The hot path's uses: dict keys, set membership, sorted() (by id, name, image, daemon)."""
    same = ContainerInfo("a" * 64, "web", "nginx:1")
    assert {A: 1}[same] == 1
    assert len({A, same, C, D}) == 3
    assert sorted([A, D]) == [D, A]
    assert sorted([B, A]) == [A, B]
    with pytest.raises(TypeError):
        sorted([A, C])  # daemon None against a str, as attrs' tuple comparison
    assert ContainerInfo.__lt__(A, Found(A)) is NotImplemented
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        A.name = "x"  # type: ignore[misc]


def test_parsers_still_set_container_info_slots_directly() -> None:
    """The hand-written dunders leave ContainerInfo a plain attrs slots class, so the parsers' fast stores apply."""
    assert containers._INFO_SETTERS is not None
    assert containers._direct_info_fields() is not None
