"""Order taking (Case 1): article ➜ (consent) ➜ quantity ➜ confirmation ➜ another item?

States: ``article`` ➜ ``consent`` (a near article offered) ➜ ``quantity`` ➜ ``confirm`` ➜
``more``. The rule of this module: **no article differing from what the caller said is
taken without the caller's «да»**. An exact catalog match is named with its product and the
dialog goes on; a near match (see :class:`nlu.types.Entity`: a digit changed, dropped,
added or swapped, the digit groups split or merged) is asked about — «Артикул 4512,
перчатки хозяйственные. Верно?» — and «да» (key 1) takes it, «нет» (key 2) asks for the
article again and never offers that suggestion again; no match is the seed's re-ask, an
operator after ``max_article_failures``. From the second failed attempt on (whatever failed:
no match, a «нет» to a suggestion or to the product named) the re-ask offers the keypad. The
keypad is exact: keyed digits are only ever matched as they are. A «нет» to the product
named at the quantity prompt («Ведро … . Сколько штук вам нужно?» — «нет») drops it and
asks for the article again; a «нет» to the quantity asks for it again, offering the keypad.

A quantity *heard* unsurely — the recognizer's confidence under
``min_quantity_confidence``, or read from several numbers written («50, 8», «6 шесть»: the
NLU's ``UNSURE_QUANTITY``) — is not put to a yes/no question: the caller is asked to key it
in («Мне послышалось: 1 штука. Чтобы не ошибиться, наберите количество …»), because a
caller who says «да» to everything would otherwise get a quantity it never said (measured:
«одиннадцать» heard as «1 сет», «восемь» as «8 8 8 8»). The same number heard again is
confirmed as usual; keys are exact. Typed text is never unsure.
"""

from __future__ import annotations

from dialogs.actions import Action
from dialogs.base import DialogCore, Line, yes_no
from dialogs.ports import Product
from dialogs.russian import inline_name, phrase_name, quantity_phrase
from nlu.types import Entity, Parse


class OrderTaking(DialogCore):
    # -- the article -----------------------------------------------------------------------

    def _ask_article(self) -> list[Action]:
        self.state = "article"
        self.in_order = True
        self.rejected = set()
        return self._prompt([self._say("utter_ask_article")], "article")

    async def _article_said(self, parse: Parse) -> list[Action]:
        article = parse.first("article")
        if article is None:
            if self.lines and (parse.intent == "deny" or yes_no(parse) is False):
                return self._finish_order()  # «нет, больше ничего»
            return self._article_failed()
        return await self._resolve(article, _quantity(parse, besides=article))

    async def _article_keyed(self, digits: str) -> list[Action]:
        return await self._take(digits, None, named=False)

    async def _resolve(self, article: Entity, quantity: int | None) -> list[Action]:
        """An article entity from the NLU: take it (exact), offer it (near) or re-ask."""
        self.state = "article"
        if article.match == "exact":
            return await self._take(article.value, quantity, named=False)
        suggestion = article.suggestion
        if (
            article.match == "near"
            and suggestion is not None
            and suggestion not in self.rejected
            and article.confidence >= self.settings.min_article_confidence
        ):
            product = await self.shop.catalog.find_article(suggestion)
            if product is not None:
                return self._offer(product, quantity)
        return self._article_failed()

    def _offer(self, product: Product, quantity: int | None) -> list[Action]:
        if quantity is not None and self._heard_unsurely(quantity):
            quantity = None  # asked for after the «да», not kept from an unsure hearing
        self.suggested, self.pending_quantity = product, quantity
        self.state = "consent"
        name = inline_name(product.name)
        say = self._say("utter_confirm_article", article=product.article, product=name)
        return self._prompt([say], "yes_no")

    async def _take(self, digits: str, quantity: int | None, *, named: bool) -> list[Action]:
        product = await self.shop.catalog.find_article(digits)
        if product is None:
            return self._article_failed()
        return self._product_taken(product, quantity, named=named)

    def _product_taken(
        self, product: Product, quantity: int | None, *, named: bool
    ) -> list[Action]:
        """``named``: the caller already heard the product's name (and said «да» to it)."""
        self.product, self.suggested, self.pending_quantity = product, None, None
        self.rejected = set()
        self.state = "quantity"
        if quantity is not None and (named or not self._heard_unsurely(quantity)):
            return self._quantity(quantity, name_product=not named)
        if named:
            return self._prompt([self._say("utter_ask_quantity_only")], "quantity")
        return self._prompt(
            [self._say("utter_ask_quantity", product=phrase_name(product.name))], "quantity"
        )

    def _article_failed(self, key: str = "utter_article_not_found") -> list[Action]:
        self.article_failures += 1
        self.suggested, self.pending_quantity = None, None
        self.state = "article"
        if self.article_failures >= self.settings.max_article_failures:
            return self._transfer("article_not_recognized")
        if self.article_failures >= 2:
            key = "utter_article_keypad"  # voice failed twice: offer the keys
        return self._prompt([self._say(key)], "article")

    # -- consent to a near article -----------------------------------------------------

    async def _consent_said(self, parse: Parse) -> list[Action]:
        assert self.suggested is not None
        answer = yes_no(parse)
        article = parse.first("article")
        said_it = article is not None and self.suggested.article in (
            article.value,
            article.suggestion,
        )
        if article is not None and not (answer is True and said_it):
            if answer is False:  # «нет, 4513»: a new article, not that one
                self.rejected.add(self.suggested.article)
            return await self._resolve(article, _quantity(parse, besides=article))
        if answer is None:
            return self._misunderstood("utter_ask_yes_no")
        return self._consent(answer, _quantity(parse, besides=article))

    def _consent(self, yes: bool, quantity: int | None = None) -> list[Action]:
        assert self.suggested is not None
        if yes:
            chosen = quantity if quantity is not None else self.pending_quantity
            return self._product_taken(self.suggested, chosen, named=True)
        self.rejected.add(self.suggested.article)
        return self._article_failed("utter_ask_article_again")

    # -- the quantity ----------------------------------------------------------------------

    async def _quantity_said(self, parse: Parse) -> list[Action]:
        article = parse.first("article")
        if article is not None and self.editing is None:  # «артикул 555»: a correction
            self.product = None
            return await self._resolve(article, _quantity(parse, besides=article))
        if parse.first("fraction") is not None:
            return self._misunderstood("utter_ask_whole_quantity", "quantity")
        quantity = parse.first("quantity")
        if quantity is None and self.editing is None and _no_number(parse):
            self.product = None  # «нет» to the product just named: not that one
            return self._article_failed("utter_ask_article_again")
        if quantity is None:  # the second time in a row, the keys are offered too
            again = (
                "utter_ask_quantity_keypad"
                if self.misunderstandings
                else "utter_ask_quantity_again"
            )
            return self._misunderstood(again, "quantity")
        return self._quantity(int(quantity.value))

    def _quantity(self, quantity: int, *, name_product: bool = False) -> list[Action]:
        if not 1 <= quantity <= self.settings.max_quantity:
            self.state = "quantity"
            return self._misunderstood("utter_ask_quantity_again", "quantity")
        unit = self.product.unit if self.product else "штука"
        text = quantity_phrase(quantity, unit)
        if self._heard_unsurely(quantity) and quantity != self.unsure_quantity:
            self.unsure_quantity = quantity  # the same number heard again is confirmed
            self.state = "quantity"
            heard = quantity_phrase(quantity, unit, "nomn")  # «Мне послышалось: 1 штука»
            return self._misunderstood("utter_confirm_quantity_keypad", "quantity", quantity=heard)
        self.unsure_quantity = None
        self.quantity = quantity
        self.state = "confirm"
        if name_product and self.product is not None:
            say = self._say(
                "utter_confirm_product_quantity",
                product=phrase_name(self.product.name),
                quantity=text,
            )
        else:
            say = self._say("utter_confirm_quantity", quantity=text)
        return self._prompt([say], "yes_no")

    def _heard_unsurely(self, quantity: int) -> bool:
        """This turn's speech gave ``quantity``, and not surely (see the module's docstring)."""
        heard = self.heard
        if heard is None:
            return False
        return quantity_heard_unsurely(heard, quantity, self.settings.min_quantity_confidence)

    async def _confirm_said(self, parse: Parse) -> list[Action]:
        answer = yes_no(parse)
        if parse.first("fraction") is not None:
            self.state = "quantity"
            return self._misunderstood("utter_ask_whole_quantity", "quantity")
        quantity = parse.first("quantity")
        if quantity is not None and (answer is not True or int(quantity.value) != self.quantity):
            return self._quantity(int(quantity.value))  # «нет, три штуки» / «да, три штуки»
        if answer is None:
            return self._misunderstood("utter_ask_yes_no")
        return self._confirm(answer)

    def _confirm(self, yes: bool) -> list[Action]:
        if not yes:
            self.quantity_denials += 1
            if self.quantity_denials >= self.settings.max_misunderstandings:
                return self._transfer("quantity_not_confirmed")
            self.state = "quantity"
            return self._prompt([self._say("utter_ask_quantity_keypad")], "quantity")
        self.quantity_denials = 0
        return self._line_confirmed()

    def _line_confirmed(self) -> list[Action]:
        assert self.product is not None
        line = Line(self.product, self.quantity)
        self.product = None
        if self.editing is not None:  # a quantity changed from the read-back
            self.lines[self.editing] = line
            self.editing = None
            return [self._draft(), *self._read_back()]
        self.lines.append(line)
        self.state = "more"
        return [self._draft(), *self._prompt([self._say("utter_ask_more")], "yes_no")]

    # -- another item? ---------------------------------------------------------------------

    async def _more_said(self, parse: Parse) -> list[Action]:
        if parse.first("article"):
            return await self._article_said(parse)
        answer = yes_no(parse)
        if answer is None and parse.intent == "make_order":
            answer = True
        if answer is None:
            return self._misunderstood("utter_ask_yes_no")
        return self._more(answer)

    def _more(self, yes: bool) -> list[Action]:
        return self._ask_article() if yes else self._finish_order()


def heard_unsurely(parse: Parse, quantity: Entity, min_confidence: float) -> bool:
    """A quantity of a recognized phrase the dialog asks for by keys, not by «да»: heard
    under ``min_confidence`` or read from several numbers written; typed text never."""
    heard = parse.heard_confidence
    if heard is None:
        return False
    return heard < min_confidence or quantity.confidence < 1.0


def quantity_heard_unsurely(parse: Parse, quantity: int, min_confidence: float) -> bool:
    """``parse`` (one turn's speech) gave ``quantity``, and not surely (:func:`heard_unsurely`);
    a quantity not among its entities was kept from an earlier turn and judged then."""
    said = [e for e in parse.entities if e.entity == "quantity" and e.value == str(quantity)]
    return bool(said) and heard_unsurely(parse, said[0], min_confidence)


def _no_number(parse: Parse) -> bool:
    """A plain «нет» (no number said with it)."""
    return yes_no(parse) is False and parse.first("number") is None


def _quantity(parse: Parse, *, besides: Entity | None) -> int | None:
    """The quantity said, unless it is the article's own digits (a yes/no prompt reads a
    bare number both ways)."""
    for entity in parse.entities:
        if entity.entity != "quantity":
            continue
        if besides is not None and entity.start < besides.end and besides.start < entity.end:
            continue
        return int(entity.value)
    return None
