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
from bot.rasa.action_steps import (
    article_failed,
    ask_article,
    ask_quantity_by_keys,
    ask_yes_no,
    confirm_quantity,
    goodbye,
    menu,
    product_found,
    read_back,
    repeat_prompt,
    status_lines,
    transfer,
    unsure_quantity,
    whole_number,
)
from dialogs.greeting import identify_caller
from dialogs.russian import inline_name


class ShopAction(Action):
    action_name: ClassVar[str] = ""
    understood: ClassVar[bool] = True  # a run resets the misunderstandings in a row
    listens: ClassVar[bool] = False  # always waits for the caller next (a fallback action)

    def __init__(self, shop: ActionShop) -> None:
        self.shop = shop

    def name(self) -> str:
        return self.action_name

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        turn = Turn(self.shop, dispatcher, tracker)
        await self.act(turn)
        if self.understood and not turn.misunderstood and turn.slot("misunderstandings", 0):
            turn.set("misunderstandings", 0)
        if turn.step_changed or self.listens:
            # the rules are conditioned on order_step: once it changed, no rule would
            # continue; the assistant waits for the caller (instead of its core fallback)
            turn.events.append(FollowupAction("action_listen"))
        return turn.events

    async def act(self, turn: Turn) -> None:
        raise NotImplementedError


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
                product_found(turn, product, whole_number(parse, "quantity"), parse)
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
            heard_before = turn.slot("unsure_quantity")
            if unsure_quantity(turn, parse, quantity) and quantity != heard_before:
                # a misunderstanding, as in the bot's own dialog: so many in a row, an operator
                if turn.not_understood() >= turn.shop.dialog.max_misunderstandings:
                    await transfer(turn, "not_understood")
                    return
                ask_quantity_by_keys(turn, product, quantity)
                return
            turn.set("unsure_quantity", None)
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
    listens = True  # as the core fallback no rule ends after it: wait for the caller

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
