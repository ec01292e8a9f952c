"""Our shop as Rasa custom actions (rasa-sdk): Case 1 and Case 2 for any Rasa assistant.

Served by ``python -m bot rasa-actions`` (:mod:`bot.rasa.action_server`); the starter
assistant (``data/rasa/``) calls them from its rules. Each action says what comes next
(a phrase of ``responses.yml`` and, for our voice bot, what it expects) and sets the
``order_step`` slot the rules are conditioned on.

| action | does |
|---|---|
| ``action_greet_caller`` | Case 2 name chain ➜ ``set_caller_name`` (``Иван 2(3)`` / ``UNKNOWN USER``) and the greeting; then the call's scenario (menu, order, status, greeting or status only) |
| ``action_ask_article`` | asks for the article |
| ``action_check_article`` | the article heard against the catalog: found ➜ the quantity; a near one ➜ offered (``action_answer_consent``); not found ➜ again, after ``dialog.max_article_failures`` an operator |
| ``action_check_quantity`` / ``action_confirm_item`` | the quantity and its «да»; a confirmed item is kept at once (draft) |
| ``action_more_items`` / ``action_read_back_answer`` | another item, or the order read back and saved (e-mail queued) |
| ``action_order_status`` | the last order's status («ваш крайний заказ…» / «у вас нет новых заказов») |
| ``action_transfer`` | an operator, or the caller's own manager (``server.managers_file``) |
| ``action_goodbye`` / ``action_caller_hung_up`` | the end of the call; confirmed items are saved |
| ``action_not_understood`` / ``action_repeat`` | the last prompt again; too many in a row ➜ an operator |
"""  # noqa: E501

from __future__ import annotations

from typing import Any, ClassVar

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction
from rasa_sdk.executor import CollectingDispatcher

from bot.rasa.action_kit import ActionShop, Turn
from dialogs.greeting import identify_caller
from dialogs.ports import Product
from dialogs.russian import inline_name, phrase_name, quantity_phrase
from nlu.types import Parse

# phrases a repeat leaves out, and the payload keys it says again
NOTICES = frozenset(
    {"utter_not_understood", "utter_silence", "utter_ask_yes_no", "utter_greet_name",
     "utter_greet_unknown", "utter_transfer"}
)  # fmt: skip
REPEATED = ("text", "key", "interruptible", "expect", "keys")


class ShopAction(Action):
    action_name: ClassVar[str] = ""
    understood: ClassVar[bool] = True  # a run resets the misunderstandings in a row

    def __init__(self, shop: ActionShop) -> None:
        self.shop = shop

    def name(self) -> str:
        return self.action_name

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        turn = Turn(self.shop, dispatcher, tracker)
        await self.act(turn)
        if self.understood and turn.slot("misunderstandings", 0):
            turn.set("misunderstandings", 0)
        if turn.step_changed:
            # the rules are conditioned on order_step: once it changed, no rule would
            # continue; the assistant waits for the caller (instead of its core fallback)
            turn.events.append(FollowupAction("action_listen"))
        return turn.events

    async def act(self, turn: Turn) -> None:
        raise NotImplementedError


# -- the steps the actions share ---------------------------------------------------------


def ask_article(turn: Turn, key: str = "utter_ask_article") -> None:
    turn.set("order_step", "article")
    turn.say(key)
    turn.expect("article")


def ask_yes_no(turn: Turn) -> None:
    turn.say("utter_ask_yes_no")
    turn.expect("yes_no")


def product_found(turn: Turn, product: Product, quantity: int | None) -> None:
    turn.set("article", product.article)
    turn.set("product", product.name)
    turn.set("suggestion", None)
    if quantity is not None and 1 <= quantity <= turn.shop.dialog.max_quantity:
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


# -- the actions -------------------------------------------------------------------------


class ActionGreetCaller(ShopAction):
    action_name = "action_greet_caller"

    async def act(self, turn: Turn) -> None:
        shop = turn.shop.shop
        identity = await identify_caller(turn.caller, shop.db, shop.ports.names)
        turn.command(set_caller_name=identity.caller_name)
        turn.set("caller_name", identity.caller_name)
        if identity.name:
            turn.set("name", identity.name)
            turn.say("utter_greet_name", name=identity.name)
        else:
            turn.say("utter_greet_unknown")
        scenario = turn.scenario
        if scenario in ("status", "status_only"):
            await status_lines(turn)
        if scenario in ("greeting", "status_only"):  # back to the PBX's scheme
            reason = "greeting_done" if scenario == "greeting" else "status_done"
            turn.transfer(reason)
        elif scenario == "order":
            ask_article(turn)
        else:
            menu(turn)


class ActionAskArticle(ShopAction):
    action_name = "action_ask_article"

    async def act(self, turn: Turn) -> None:
        ask_article(turn)


class ActionCheckArticle(ShopAction):
    action_name = "action_check_article"

    async def act(self, turn: Turn) -> None:
        parse = turn.heard("article")
        article = parse.first("article")
        db = turn.shop.shop.db
        if article is not None and article.match != "near":
            product = await db.find_article(article.value)
            if product is not None:
                product_found(turn, product, whole_number(parse, "quantity"))
                return
        if (
            article is not None
            and article.match == "near"
            and article.suggestion
            and article.confidence >= turn.shop.dialog.min_article_confidence
        ):
            product = await db.find_article(article.suggestion)
            if product is not None:  # only ever offered: the caller's «да» takes it
                turn.set("suggestion", product.article)
                turn.set("order_step", "consent")
                turn.say(
                    "utter_confirm_article",
                    article=product.article,
                    product=inline_name(product.name),
                )
                turn.expect("yes_no")
                return
        await article_failed(turn)


async def article_failed(turn: Turn, key: str = "") -> None:
    failures = turn.count("article_failures")
    if failures >= turn.shop.dialog.max_article_failures:
        await transfer(turn, "article_not_recognized")
        return
    ask_article(
        turn, key or ("utter_article_not_found" if failures == 1 else "utter_article_keypad")
    )


class ActionAnswerConsent(ShopAction):
    action_name = "action_answer_consent"

    async def act(self, turn: Turn) -> None:
        yes = turn.yes_no()
        if yes is None:
            ask_yes_no(turn)
            return
        suggestion = turn.slot("suggestion")
        product = await turn.shop.shop.db.find_article(suggestion) if suggestion else None
        if yes and product is not None:
            product_found(turn, product, None)
            return
        turn.set("suggestion", None)
        await article_failed(turn, "utter_ask_article_again")


class ActionCheckQuantity(ShopAction):
    action_name = "action_check_quantity"

    async def act(self, turn: Turn) -> None:
        parse = turn.heard("quantity")
        article = turn.slot("article")
        product = await turn.shop.shop.db.find_article(article) if article else None
        if product is None:
            ask_article(turn)
            return
        if parse.first("fraction") is not None:
            turn.say("utter_ask_whole_quantity")
            turn.expect("quantity")
            return
        quantity = whole_number(parse, "quantity", "number")
        if quantity is not None and 1 <= quantity <= turn.shop.dialog.max_quantity:
            confirm_quantity(turn, product, quantity)
            return
        turn.set("order_step", "quantity")
        turn.say("utter_ask_quantity_again")
        turn.expect("quantity")


class ActionConfirmItem(ShopAction):
    action_name = "action_confirm_item"

    async def act(self, turn: Turn) -> None:
        yes = turn.yes_no()
        if yes is None:
            ask_yes_no(turn)
            return
        article = turn.slot("article")
        product = await turn.shop.shop.db.find_article(article) if article else None
        if not yes or product is None:
            if turn.count("quantity_denials") >= turn.shop.dialog.max_misunderstandings:
                await transfer(turn, "quantity_not_confirmed")
                return
            turn.set("order_step", "quantity")
            turn.say("utter_ask_quantity_keypad")
            turn.expect("quantity")
            return
        item = {
            "article": product.article,
            "name": product.name,
            "quantity": int(turn.slot("quantity_value", 1)),
            "unit": product.unit,
        }
        items = [*turn.items, item]
        turn.set("order_items", items)
        turn.set("quantity_denials", 0)
        turn.set("article_failures", 0)
        await turn.save(turn.shop.dialog.status_draft, items, draft=True)  # on disk at once
        turn.set("order_step", "more")
        turn.say("utter_ask_more")
        turn.expect("yes_no")


class ActionMoreItems(ShopAction):
    action_name = "action_more_items"

    async def act(self, turn: Turn) -> None:
        yes = turn.yes_no()
        if yes is None:
            ask_yes_no(turn)
        elif yes:
            ask_article(turn)
        elif turn.items and turn.shop.dialog.read_back:
            read_back(turn)
        else:
            await goodbye(turn)


class ActionReadBackAnswer(ShopAction):
    action_name = "action_read_back_answer"

    async def act(self, turn: Turn) -> None:
        yes = turn.yes_no()
        if yes is None:
            ask_yes_no(turn)
        elif yes:
            await goodbye(turn)
        else:
            await transfer(turn, "order_not_confirmed")


class ActionOrderStatus(ShopAction):
    action_name = "action_order_status"

    async def act(self, turn: Turn) -> None:
        await status_lines(turn)


class ActionTransfer(ShopAction):
    action_name = "action_transfer"

    async def act(self, turn: Turn) -> None:
        await transfer(turn, "caller_request")


class ActionGoodbye(ShopAction):
    action_name = "action_goodbye"

    async def act(self, turn: Turn) -> None:
        items = turn.items
        if items and turn.slot("order_step") == "readback":  # left before the «да»
            await goodbye(turn, turn.shop.dialog.status_abandoned)
        elif items and turn.shop.dialog.read_back:
            read_back(turn)
        else:
            await goodbye(turn)


class ActionCallerHungUp(ShopAction):
    action_name = "action_caller_hung_up"

    async def act(self, turn: Turn) -> None:
        items = turn.items
        if items:
            await turn.save(turn.shop.dialog.status_abandoned, items)
            turn.set("order_items", [])


class ActionNotUnderstood(ShopAction):
    action_name = "action_not_understood"
    understood = False

    async def act(self, turn: Turn) -> None:
        if turn.count("misunderstandings") >= turn.shop.dialog.max_misunderstandings:
            await transfer(turn, "not_understood")
            return
        turn.say("utter_not_understood")
        repeat_prompt(turn)


class ActionRepeat(ShopAction):
    action_name = "action_repeat"

    async def act(self, turn: Turn) -> None:
        repeat_prompt(turn)


ACTIONS: tuple[type[ShopAction], ...] = (
    ActionGreetCaller,
    ActionAskArticle,
    ActionCheckArticle,
    ActionAnswerConsent,
    ActionCheckQuantity,
    ActionConfirmItem,
    ActionMoreItems,
    ActionReadBackAnswer,
    ActionOrderStatus,
    ActionTransfer,
    ActionGoodbye,
    ActionCallerHungUp,
    ActionNotUnderstood,
    ActionRepeat,
)
