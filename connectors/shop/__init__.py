"""The shop connector: catalog, customer and order look-ups, orders, e-mail, dadata.

Import from the modules or from here::

    from connectors.shop import ShopDatabase, ShopSettings, Outbox, SmtpSettings
"""

from connectors.shop.catalog_import import CatalogError, import_catalog, read_catalog
from connectors.shop.dadata import CleanedName, DadataNameCleaner, DadataSettings
from connectors.shop.database import ShopDatabase
from connectors.shop.mail import SmtpSettings, render_order_email
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
from connectors.shop.settings import ShopQueries, ShopSettings

__all__ = [
    "CatalogError",
    "CatalogItem",
    "CleanedName",
    "DadataNameCleaner",
    "DadataSettings",
    "OrderItem",
    "OrderRecord",
    "OrderStatus",
    "OrdersSummary",
    "Outbox",
    "OutboxEntry",
    "ShopDatabase",
    "ShopQueries",
    "ShopSettings",
    "SmtpSettings",
    "import_catalog",
    "phone10",
    "read_catalog",
    "render_order_email",
    "validate_phone10",
]
