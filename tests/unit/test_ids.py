"""core.state.ids: what may become part of a path under the engine root."""

from __future__ import annotations

import pytest

from core.errors import InvalidArgument
from core.state.ids import check_hex64, check_name, digest_hex, new_id

HEX = "0123456789abcdef" * 4


def test_ids_and_digests() -> None:
    assert check_hex64(HEX) == HEX
    assert digest_hex(f"sha256:{HEX}") == HEX
    assert check_hex64(new_id()) and new_id() != new_id()


@pytest.mark.parametrize(
    "value", [HEX + "\n", HEX[:-1], HEX + "0", HEX.upper(), f"../{HEX[3:]}", "", f"{HEX[:-1]}/"]
)
def test_anything_else_is_not_an_id(value: str) -> None:
    with pytest.raises(InvalidArgument):
        check_hex64(value)
    with pytest.raises(InvalidArgument):
        digest_hex(f"sha256:{value}")


def test_only_sha256_digests() -> None:
    for value in (f"sha512:{HEX}", HEX, f"sha256{HEX}"):
        with pytest.raises(InvalidArgument):
            digest_hex(value)


@pytest.mark.parametrize("name", ["web", "ab", "my_app.1-2", "0abc"])
def test_docker_names(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize("name", ["web\n", "", "a", "-web", ".web", "_web", "a/b", "a b", "..", "we\0b"])
def test_what_docker_refuses_as_a_name(name: str) -> None:
    with pytest.raises(InvalidArgument):
        check_name(name)
