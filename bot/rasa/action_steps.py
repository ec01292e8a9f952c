"""The steps our custom actions share (:mod:`bot.rasa.actions`): asking, confirming,
reading the order back, saving it, handing over, saying the last prompt again."""

from __future__ import annotations

from bot.rasa.action_kit import Turn
from dialogs.ordering import quantity_heard_unsurely
from dialogs.ports import Product
from dialogs.russian import inline_name, phrase_name, quantity_phrase
from nlu.types import Parse

# phrases a repeat leaves out, and the payload keys it says again
NOTICES = frozenset(
    {"utter_not_understood", "utter_silence", "utter_ask_yes_no", "utter_greet_name",
     "utter_greet_unknown", "utter_transfer"}
)  # fmt: skip
REPEATED = ("text", "key", "interruptible", "expect", "keys")


def ask_article(turn: Turn, key: str = "utter_ask_article") -> None:
    turn.set("order_step", "article")
    turn.say(key)
    turn.expect("article")


def ask_yes_no(turn: Turn) -> None:
    turn.say("utter_ask_yes_no")
    turn.expect("yes_no")


def product_found(
    turn: Turn, product: Product, quantity: int | None, parse: Parse | None = None
) -> None:
    """The article is taken; a quantity said with it is confirmed with the product's name,
    unless it was heard unsurely: then it is asked for after the name, as the bot's own
    dialog does (``dialogs.ordering``)."""
    turn.set("article", product.article)
    turn.set("product", product.name)
    turn.set("suggestion", None)
    turn.set("unsure_quantity", None)
    unsure = parse is not None and quantity is not None and unsure_quantity(turn, parse, quantity)
    if quantity is not None and 1 <= quantity <= turn.shop.dialog.max_quantity and not unsure:
        confirm_quantity(turn, product, quantity, with_product=True)
        return
    turn.set("order_step", "quantity")
    turn.say("utter_ask_quantity", product=phrase_name(product.name))
    turn.expect("quantity")


def confirm_quantity(
    turn: Turn, product: Product, quantity: int, *, with_product: bool = False
) -> None:
    text = quantity_phrase(quantity, product.unit or "штука")
    turn.set("quantity", text)
    turn.set("quantity_value", float(quantity))
    turn.set("order_step", "confirm")
    if with_product:
        turn.say("utter_confirm_product_quantity", product=phrase_name(product.name), quantity=text)
    else:
        turn.say("utter_confirm_quantity", quantity=text)
    turn.expect("yes_no")


def unsure_quantity(turn: Turn, parse: Parse, quantity: int) -> bool:
    """This turn's speech gave ``quantity``, and not surely (``dialog.min_quantity_confidence``,
    or read from several numbers): it is asked for by keys, not confirmed by «да»."""
    return quantity_heard_unsurely(parse, quantity, turn.shop.dialog.min_quantity_confidence)


def ask_quantity_by_keys(turn: Turn, product: Product, quantity: int) -> None:
    """«Мне послышалось: 1 штука. … наберите количество …»; the same number heard again, or
    keyed, is then confirmed as usual."""
    turn.set("unsure_quantity", float(quantity))
    turn.set("order_step", "quantity")
    heard = quantity_phrase(quantity, product.unit or "штука", "nomn")
    turn.say("utter_confirm_quantity_keypad", quantity=heard)
    turn.expect("quantity")


def whole_number(parse: Parse, *kinds: str) -> int | None:
    for kind in kinds:
        entity = parse.first(kind)
        if entity is not None and entity.value.isdigit():
            return int(entity.value)
    return None


async def transfer(turn: Turn, reason: str) -> None:
    """An operator: an order begun is saved «переведен на оператора» (as the seed asks)."""
    items = turn.items
    if turn.slot("order_step") and (items or turn.slot("article_failures", 0)):
        await turn.save(turn.shop.dialog.status_transferred, items)
    turn.say("utter_transfer", interruptible=False)
    turn.transfer(reason)


async def goodbye(turn: Turn, status: str | None = None) -> None:
    items = turn.items
    if items:
        await turn.save(status or turn.shop.dialog.status_accepted, items)
        if status is None:
            turn.say("utter_order_accepted", interruptible=False)
        turn.set("order_items", [])
    turn.say("utter_goodbye", interruptible=False)
    turn.command(hangup=True)


def read_back(turn: Turn) -> None:
    entries = [
        turn.responses.render(
            "utter_read_back_item",
            product=inline_name(item["name"]),
            quantity=quantity_phrase(int(item["quantity"]), item.get("unit") or "штука", "nomn"),
        )
        for item in turn.items
    ]
    turn.set("order_step", "readback")
    turn.say("utter_read_back", items="; ".join(entries))
    turn.expect("yes_no")


async def status_lines(turn: Turn) -> None:
    phone = turn.caller
    status = await turn.shop.shop.db.last_order_status(phone) if phone else None
    if status and status.strip().casefold() != turn.shop.dialog.done_status.casefold():
        turn.say("utter_order_status", status=status.strip())
    else:
        turn.say("utter_no_new_orders")


def menu(turn: Turn) -> None:
    turn.say("utter_main_menu")
    turn.expect("menu")


def repeat_prompt(turn: Turn) -> None:
    """The bot's messages of the previous turn again (without its notices)."""
    events = turn.tracker.events or []
    users = [i for i, e in enumerate(events) if e.get("event") == "user"]
    previous = users[-2] if len(users) > 1 else -1
    last = users[-1] if users else len(events)
    notices = {text for key in NOTICES for text in turn.responses.variants.get(key, [])}
    again = 0
    for event in events[previous + 1 : last]:
        if event.get("event") != "bot":
            continue
        custom = (event.get("data") or {}).get("custom")
        text = event.get("text")
        if isinstance(custom, dict) and custom:
            kept = {k: custom[k] for k in REPEATED if k in custom}
            if kept and custom.get("key") not in NOTICES:
                turn.dispatcher.utter_message(json_message=kept)
                again += 1
        elif isinstance(text, str) and text and text not in notices:
            turn.dispatcher.utter_message(text=text)
            again += 1
    if not again:
        menu(turn)


async def article_failed(turn: Turn, key: str = "") -> None:
    failures = turn.count("article_failures")
    if failures >= turn.shop.dialog.max_article_failures:
        await transfer(turn, "article_not_recognized")
        return
    ask_article(
        turn, key or ("utter_article_not_found" if failures == 1 else "utter_article_keypad")
    )
