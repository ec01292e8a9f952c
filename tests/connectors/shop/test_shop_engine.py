"""The SQLite folder rule: a file database gets its folder, a ``file:`` URI or memory none."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.shop.engine import make_sqlite_folder


def test_a_file_database_gets_its_folder(tmp_path: Path) -> None:
    make_sqlite_folder(f"sqlite:///{tmp_path / 'a' / 'b' / 'shop.sqlite'}")
    assert (tmp_path / "a" / "b").is_dir()


def test_a_writable_file_uri_gets_the_folder_of_its_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    make_sqlite_folder(f"sqlite:///file:{tmp_path}/u/shop.sqlite?mode=rwc&uri=true")
    make_sqlite_folder("sqlite:///file:rel/shop.sqlite?uri=true")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rel", "u"], "no folder named file:"


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///file:{dir}/ro/shop.sqlite?mode=ro&uri=true",
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite:///file:mem1?mode=memory&cache=shared&uri=true",
        "postgresql://u@localhost/{dir}/shop",
    ],
)
def test_uris_memory_and_servers_make_no_folder(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    make_sqlite_folder(url.format(dir=tmp_path))
    assert list(tmp_path.iterdir()) == [], "no folder named file: or otherwise"
