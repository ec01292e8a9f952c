"""The shop connector: catalog, customer and order look-ups, orders, e-mail, dadata.

Import from the modules or from here::

    from connectors.shop import ShopDatabase, ShopSettings, OrderStore, Outbox, SmtpSettings
"""

from connectors.shop.articles import article_key
from connectors.shop.catalog_import import CatalogError, XlsxLimits, import_catalog, read_catalog
from connectors.shop.dadata import CleanedName, DadataNameCleaner, DadataSettings
from connectors.shop.database import ShopDatabase
from connectors.shop.mail import SmtpSettings, render_order_email
from connectors.shop.order_store import OrderNotSaved, OrderStore
from connectors.shop.outbox import Outbox
from connectors.shop.phone import phone10, validate_phone10
from connectors.shop.records import (
    CatalogItem,
    OrderItem,
    OrderRecord,
    OrdersSummary,
    OrderStatus,
    OutboxEntry,
)
from connectors.shop.settings import OrderStoreSettings, ShopQueries, ShopSettings
from connectors.shop.workers import WorkerIdentity

__all__ = [
    "CatalogError",
    "CatalogItem",
    "CleanedName",
    "DadataNameCleaner",
    "DadataSettings",
    "OrderItem",
    "OrderNotSaved",
    "OrderRecord",
    "OrderStatus",
    "OrderStore",
    "OrderStoreSettings",
    "OrdersSummary",
    "Outbox",
    "OutboxEntry",
    "ShopDatabase",
    "ShopQueries",
    "ShopSettings",
    "SmtpSettings",
    "WorkerIdentity",
    "XlsxLimits",
    "article_key",
    "import_catalog",
    "phone10",
    "read_catalog",
    "render_order_email",
    "validate_phone10",
]
