"""Log lines with their structured fields: ``message  call_id=… reason=…``.

Personal data (phone numbers, names, transcripts) never goes into a message text; when it
must be logged at all it goes into fields, and ``MASKED_FIELDS`` are shown masked.
"""

from __future__ import annotations

import logging

STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
MASKED_FIELDS = {"caller", "called", "phone", "name", "text"}


class FieldsFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = {k: v for k, v in vars(record).items() if k not in STANDARD}
        if not fields:
            return line
        shown = " ".join(
            f"{key}={'***' if key in MASKED_FIELDS else value}" for key, value in fields.items()
        )
        return f"{line}  {shown}"


def setup_logging(verbose: bool = False) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(FieldsFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("pymorphy3", "faster_whisper"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
