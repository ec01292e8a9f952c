"""Read the order back before it is saved (``dialog.read_back``, on by default).

«Ваш заказ: перчатки хозяйственные, 2 штуки; швабра с отжимом, 1 штука. Всё верно?»
«Да» (key 1) saves the order; «нет» (key 2) offers what to do (state ``fix``): change a
quantity («количество», key 1), drop an item («убрать», key 2) or an operator (key 0). With
more than one item the caller picks which (state ``pick``: its number in the list, said or
keyed, or its article). A changed quantity is confirmed like a new one and the order read
back again; dropping the last item asks whether to order something else.
"""

from __future__ import annotations

from dialogs.actions import Action
from dialogs.base import NO_KEYS, YES_KEYS, DialogCore, yes_no
from dialogs.russian import inline_name, phrase_name, quantity_phrase
from nlu.types import Parse

FIX_KEYS = {"1": "quantity", "2": "drop"}


class ReadBack(DialogCore):
    def _read_back(self) -> list[Action]:
        self.state = "readback"
        entries = [
            self.responses.render(
                "utter_read_back_item",
                product=inline_name(line.product.name),
                quantity=quantity_phrase(line.quantity, line.product.unit, "nomn"),
            )
            for line in self.lines
        ]
        return self._prompt([self._say("utter_read_back", items="; ".join(entries))], "yes_no")

    async def _read_back_said(self, parse: Parse) -> list[Action]:
        edit = parse.first("order_edit")
        if edit is not None:  # «уберите швабру», «измените количество»
            return self._edit(edit.value)
        answer = yes_no(parse)
        if answer is None:
            return self._misunderstood("utter_ask_yes_no")
        return self._read_back_answer(answer)

    def _read_back_answer(self, yes: bool) -> list[Action]:
        if yes:
            self.read_back_denials = 0
            return self._goodbye()
        self.read_back_denials += 1
        if self.read_back_denials >= self.settings.max_misunderstandings:
            return self._transfer("order_not_confirmed")
        self.state = "fix"
        return self._prompt([self._say("utter_read_back_options")], "menu")

    # -- what is wrong ---------------------------------------------------------------------

    async def _fix_said(self, parse: Parse) -> list[Action]:
        edit = parse.first("order_edit")
        if edit is not None:
            return self._edit(edit.value)
        if yes_no(parse) is True:  # «да нет, всё верно» is a no; «всё верно» reads it again
            return self._read_back()
        numbers = parse.values("number")
        if len(numbers) == 1 and numbers[0] in FIX_KEYS:
            return self._edit(FIX_KEYS[numbers[0]])
        return self._misunderstood()

    def _fix_keys(self, digits: str) -> list[Action]:
        if digits in FIX_KEYS:
            return self._edit(FIX_KEYS[digits])
        if digits == "0":
            return self._transfer("caller_request")
        return self._misunderstood()

    def _edit(self, action: str) -> list[Action]:
        self.pick_action = action
        if len(self.lines) == 1:
            return self._picked(0)
        self.state = "pick"
        entries = ", ".join(
            self.responses.render(
                "utter_pick_item_entry", number=i, product=inline_name(line.product.name)
            )
            for i, line in enumerate(self.lines, start=1)
        )
        return self._prompt([self._say("utter_pick_item", items=entries)], "menu")

    async def _pick_said(self, parse: Parse) -> list[Action]:
        numbers = parse.values("number")
        if len(numbers) == 1:
            index = self._line_index(numbers[0])
            if index is not None:
                return self._picked(index)
        return self._misunderstood()

    def _pick_keys(self, digits: str) -> list[Action]:
        index = self._line_index(digits)
        return self._picked(index) if index is not None else self._misunderstood()

    def _line_index(self, said: str) -> int | None:
        """The line by its number in the list (1, 2, …), else by its article."""
        if said.isdigit() and 1 <= int(said) <= len(self.lines) and not said.startswith("0"):
            return int(said) - 1
        return next((i for i, line in enumerate(self.lines) if line.product.article == said), None)

    def _picked(self, index: int) -> list[Action]:
        line = self.lines[index]
        if self.pick_action == "drop":
            del self.lines[index]
            dropped = self._say("utter_item_dropped", product=inline_name(line.product.name))
            if not self.lines:
                self.state = "more"
                empty = self._prompt([self._say("utter_order_empty")], "yes_no")
                return [self._draft(), dropped, *empty]
            return [self._draft(), dropped, *self._read_back()]
        self.editing, self.product = index, line.product
        self.state = "quantity"
        return self._prompt(
            [self._say("utter_ask_quantity", product=phrase_name(line.product.name))], "quantity"
        )

    def _read_back_keys(self, digits: str) -> list[Action]:
        if digits in YES_KEYS | NO_KEYS:
            return self._read_back_answer(digits in YES_KEYS)
        return self._misunderstood()
