"""Database error text, as it may reach the server log.

PostgreSQL's error messages quote the values a statement was given in their DETAIL line
("Key (name)=(...) already exists.", "Failing row contains (...)."): anything a client sent,
which can be PHI. The engines already keep SQLAlchemy's parameter listing out of error text
(hide_parameters); the server's log formatter withholds these lines too. The constraint or
column an error names stays in the message, which is what an operator needs to diagnose it.
"""
from __future__ import annotations

import logging
import re

_DETAIL = re.compile(r"^(DETAIL:\s*).+$", re.MULTILINE)
WITHHELD = "(withheld from the log: it quotes the values of the failed statement)"


def withhold_values(text: str) -> str:
    return _DETAIL.sub(lambda m: m.group(1) + WITHHELD, text)


class ValueWithholdingFormatter(logging.Formatter):
    """A log formatter that withholds the DETAIL lines of database errors, in messages and tracebacks."""

    def format(self, record: logging.LogRecord) -> str:
        return withhold_values(super().format(record))
