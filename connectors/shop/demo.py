"""A demo shop database for the console, the tests and first runs.

``create_demo_shop`` builds the shop's tables of the seed (``shop_orders``,
``shop_orders_status``, ``users``) from ``data/shop_demo.yml`` and loads the catalog from
``data/catalog.xlsx`` (written by :func:`write_demo_catalog`). Running it again rebuilds the
demo tables from scratch; the bot's orders and outbox are kept.

Demo callers (all invented):

================  ==========================  =====================  =========================
caller            ``shop_orders.Person``      ``users.Name``         orders / «выполнен» / last
================  ==========================  =====================  =========================
+79607775577      Иван                        Иван Петрович          3 / 2 / отправлен
79161234567       Петрова Анна Сергеевна (*)  —                      2 / 1 / в обработке
79031112233       —                           Сергей                 0 / 0 / —
79035556677       —                           мария ивановна (*)     0 / 0 / —
79998887766       Олег                        —                      2 / 2 / выполнен
79260000000       ООО Ромашка (*, unsure)     —                      1 / 0 / новый
================  ==========================  =====================  =========================

(*) has spaces, so the name must be cleaned (dadata) before it is spoken. Phones are stored
with different prefixes (``+7``, ``8``, ``7``); the look-ups compare the last 10 digits.

Usage: ``python -m connectors.shop.demo [var/shop.sqlite]``.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import openpyxl
import sqlalchemy as sa
import yaml

from connectors.shop import schema
from connectors.shop.catalog_import import read_catalog
from connectors.shop.engine import make_sqlite_folder
from connectors.shop.migrate import upgrade_engine

DEFAULT_SOURCE = Path("data/shop_demo.yml")
DEFAULT_CATALOG = Path("data/catalog.xlsx")

DEMO_CATALOG: list[tuple[int | str, str]] = [
    (123, "Ведро пластиковое 10 л"),
    (1245, "Швабра с отжимом"),
    ("007", "Губки для посуды, 10 шт. в упаковке"),
    (7715, "Средство для мытья посуды 500 мл"),
    (4512, "Перчатки хозяйственные резиновые"),
    (555, "Щётка для обуви"),
    (10, "Мешки для мусора 60 л"),
    (2024, "Сушилка для белья напольная"),
    (31337, "Набор кухонных ножей"),
    (100, "Кастрюля эмалированная 3 л"),
    (101, "Сковорода антипригарная 26 см"),
    (202, "Чайник со свистком"),
    (303, "Доска разделочная бамбуковая"),
    (404, "Тёрка четырёхгранная"),
    (505, "Контейнер для продуктов 1 л"),
    (606, "Прищепки бельевые, 20 шт."),
    (707, "Вешалки для одежды, 5 шт."),
    (808, "Таз пластиковый 15 л"),
    (909, "Коврик для ванной"),
    (1111, "Стиральный порошок 3 кг"),
    (1212, "Мыло хозяйственное"),
    (1313, "Салфетки из микрофибры, 3 шт."),
    (1414, "Совок с щёткой"),
    (1515, "Гладильная доска"),
    (1616, "Утюг паровой"),
    (1717, "Лампочка светодиодная E27"),
    (1818, "Удлинитель на 3 розетки"),
    (1919, "Батарейки AA, 4 шт."),
    ("0042", "Фонарик карманный"),
    (8800, "Термос 1 л"),
]


def write_demo_catalog(path: Path = DEFAULT_CATALOG) -> Path:
    """Write the demo catalog ``.xlsx`` (header Артикул / Наименование / Единица).

    Numeric articles are stored as numbers and the ones with leading zeros as text, as in a
    real export; the document dates are fixed so the file is the same on every run.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Каталог"
    sheet.append(["Артикул", "Наименование", "Единица"])
    for article, name in DEMO_CATALOG:
        sheet.append([article, name, "шт"])
    sheet.column_dimensions["A"].width = 12
    sheet.column_dimensions["B"].width = 44
    sheet.column_dimensions["C"].width = 10
    fixed = datetime(2024, 1, 1)
    workbook.properties.creator = "ru-voice-shop-bot"
    workbook.properties.created = fixed
    workbook.properties.modified = fixed
    workbook.save(path)
    return path


def _url(url_or_path: str | Path) -> str:
    text = str(url_or_path)
    if "://" in text:
        return text
    return f"sqlite:///{Path(text)}"


def _load_source(source: Path) -> dict[str, list[dict[str, Any]]]:
    with Path(source).open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    if not isinstance(data, dict):
        raise ValueError(f"{source}: expected a mapping with statuses, orders, users")
    result: dict[str, list[dict[str, Any]]] = {}
    for key in ("statuses", "orders", "users"):
        rows = data.get(key) or []
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ValueError(f"{source}: {key!r} must be a list of mappings")
        result[key] = rows
    return result


_shop = sa.MetaData()
shop_orders_status = sa.Table(
    "shop_orders_status",
    _shop,
    sa.Column("ID", sa.Integer, primary_key=True),
    sa.Column("Name", sa.String(100)),
)
shop_orders = sa.Table(
    "shop_orders",
    _shop,
    sa.Column("ID", sa.Integer, primary_key=True),
    sa.Column("Phone", sa.String(32)),
    sa.Column("Person", sa.String(200)),
    sa.Column("Status", sa.Integer),
)
users = sa.Table(
    "users",
    _shop,
    sa.Column("Phone", sa.String(32)),
    sa.Column("Name", sa.String(200)),
)


def create_demo_shop(
    url_or_path: str | Path,
    source: Path = DEFAULT_SOURCE,
    catalog: Path = DEFAULT_CATALOG,
) -> str:
    """(Re)create the demo shop tables and load the demo catalog; return the database URL."""
    url = _url(url_or_path)
    data = _load_source(source)
    items = read_catalog(Path(catalog))
    parsed = sa.make_url(url)
    make_sqlite_folder(parsed)
    engine = sa.create_engine(parsed)
    try:
        _shop.drop_all(engine, checkfirst=True)
        _shop.create_all(engine)
        upgrade_engine(engine)  # the bot's own tables, by the migrations
        with engine.begin() as conn:
            conn.execute(
                shop_orders_status.insert(),
                [{"ID": int(s["id"]), "Name": str(s["name"])} for s in data["statuses"]],
            )
            conn.execute(
                shop_orders.insert(),
                [
                    {
                        "ID": int(o["id"]),
                        "Phone": str(o["phone"]),
                        "Person": str(o.get("person") or ""),
                        "Status": int(o["status"]),
                    }
                    for o in data["orders"]
                ],
            )
            conn.execute(
                users.insert(),
                [
                    {"Phone": str(u["phone"]), "Name": str(u.get("name") or "")}
                    for u in data["users"]
                ],
            )
            schema.replace_catalog_rows(conn, items)
    finally:
        engine.dispose()
    return url


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    target = args[0] if args else "var/shop.sqlite"
    if not DEFAULT_CATALOG.exists():
        write_demo_catalog(DEFAULT_CATALOG)
    url = create_demo_shop(target)
    print(f"demo shop ready: {url}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
