"""The base of the package's enums: C values that print as their names."""

from __future__ import annotations

import enum


class NamedIntEnum(enum.IntEnum):
    """An ``IntEnum`` of C values that prints as its name.

    ``str()``, ``format()`` and f-strings give the name (``"RESTORED"``),
    ``repr()`` gives ``"DevEndResult.RESTORED"``; comparisons and ``int()``
    still use the C value. A numeric format spec (``f"{x:d}"``) formats the value.
    """

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"

    def __format__(self, spec: str) -> str:
        if spec and spec[-1] in "bcdoxXneEfFgG%":
            return int.__format__(int(self), spec)
        return format(self.name, spec)
