"""Fixed-width text tables that fit a terminal (and a pull-request comment): 120 columns by default.

When the natural widths do not fit, the widest text columns are narrowed and their cells wrap at spaces onto
continuation lines; numbers never wrap. A column is never narrowed below `MIN_COLUMN` characters, so a table
with very many columns may still be wider than asked.
"""

from __future__ import annotations

import textwrap
from typing import Any, Sequence

WIDTH = 120
MIN_COLUMN = 8
GAP = "  "


def _fit(widths: list[int], floor: list[int], wrappable: list[bool], width: int) -> list[int]:
    """Narrow the widest wrappable column one character at a time until the table fits (or none can narrow)."""
    widths = list(widths)
    total = sum(widths) + len(GAP) * (len(widths) - 1)
    while total > width:
        candidates = [i for i, w in enumerate(widths) if wrappable[i] and w > max(MIN_COLUMN, floor[i])]
        if not candidates:
            break
        widths[max(candidates, key=lambda j: widths[j])] -= 1
        total -= 1
    return widths


def _wrap(text: str, width: int) -> list[str]:
    if len(text) <= width:
        return [text]
    return textwrap.wrap(text, width, subsequent_indent="  ", break_on_hyphens=False) or [""]


def table(head: Sequence[str], rows: Sequence[Sequence[Any]], right: Sequence[int] = (), width: int = WIDTH,
          rules_before: Sequence[int] = ()) -> str:
    """`head` and `rows` as aligned columns (None prints as "-"); columns in `right` are right-aligned and
    never wrap. A rule follows the header; `rules_before` adds one before those row indexes (a total row)."""
    cells = [[str(h) for h in head]] + [[("-" if c is None else str(c)) for c in row] for row in rows]
    n = len(head)
    natural = [max(len(r[i]) for r in cells) for i in range(n)]
    # A wrapped column stays as wide as its heading and its longest word on an indented line.
    longest_word = [max([len(cells[0][i])] + [2 + len(w) for r in cells[1:] for w in r[i].split()]) for i in range(n)]
    wrappable = [i not in right for i in range(n)]
    widths = _fit(natural, longest_word, wrappable, width)

    def lines_of(row: list[str]) -> list[str]:
        parts = [[c] if i in right else _wrap(c, widths[i]) for i, c in enumerate(row)]
        out = []
        for k in range(max(len(p) for p in parts)):
            line = [(p[k] if k < len(p) else "") for p in parts]
            out.append(GAP.join(c.rjust(w) if i in right else c.ljust(w)
                                for i, (c, w) in enumerate(zip(line, widths))).rstrip())
        return out

    rule = GAP.join("-" * w for w in widths)
    out = lines_of(cells[0]) + [rule]
    for k, row in enumerate(cells[1:]):
        if k in rules_before:
            out.append(rule)
        out += lines_of(row)
    return "\n".join(out)


def paragraph(text: str, indent: str = "", width: int = WIDTH) -> str:
    """One line of prose wrapped to `width`, continuation lines indented two more than `indent`."""
    return "\n".join(textwrap.wrap(text, width, initial_indent=indent, subsequent_indent=indent + "  ",
                                    break_on_hyphens=False, break_long_words=False)) or indent
