"""Which prices a stack is planned with: its region's price file, or the us-east-1 fallback (named in the plan).

Where the file is looked for, in order:

1. `modelstack:config.prices_file` in the stack config: a path relative to the project folder (the one with
   Pulumi.yaml), or absolute. It must exist and hold the stack's region.
2. `prices/<region>.json` in the project folder (what `modelstack prices refresh --region R` writes by default).

Nothing else is read: no home folder, no environment variable. With no file, the book is the built-in table's
us-east-1 prices, flagged as a fallback outside us-east-1 (pricing.price_book, fallback_to_us_east_1).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from modelstack.capacity import pricing
from modelstack.config.schema import CONFIG_KEY, ConfigIssue, Platform

#: The project folder's price files, one per region (README "Prices per region").
PRICES_DIR = "prices"


def default_path(project: Path, region: str) -> Path:
    return project / PRICES_DIR / f"{region}.json"


def price_file(platform: Platform, project: Optional[Path]) -> tuple[Optional[Path], bool]:
    """The file to read (None: none) and whether the stack config named it."""
    named = platform.config.prices_file
    if named:
        path = Path(named)
        if not path.is_absolute() and project is not None:
            path = project / path
        return path, True
    if project is None:
        return None, False
    path = default_path(project, platform.region)
    return (path, False) if path.is_file() else (None, False)


def _shown(path: Path, project: Optional[Path]) -> str:
    """The path as the plan prints it: relative to the project folder when inside it (no machine paths)."""
    if project is not None:
        try:
            return str(path.resolve().relative_to(project.resolve()))
        except ValueError:
            pass
    return str(path)


def read_region_prices(path: Path, shown: Optional[str] = None) -> pricing.RegionPrices:
    """One region price file; PricingError naming it and what is wrong (unreadable, not JSON, bad layout)."""
    shown = shown or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise pricing.PricingError(f"{shown}: cannot be read ({e.strerror or e})") from None
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise pricing.PricingError(f"{shown}: not JSON ({e})") from None
    return pricing.parse_region_prices(doc, shown)


def book_for(platform: Platform, project: Optional[Path]) -> tuple[pricing.PriceBook, list[ConfigIssue]]:
    """The price book to plan `platform` with, and the config issues its price file has (then the fallback book)."""
    path, named = price_file(platform, project)
    fallback = pricing.price_book(platform.region, fallback_to_us_east_1=True)
    if path is None:
        return fallback, []
    key = f"{CONFIG_KEY}.prices_file" if named else f"price file {PRICES_DIR}/{platform.region}.json"
    shown = _shown(path, project)
    allowed = (f"a region price file for {platform.region} (`modelstack prices refresh --region {platform.region}"
               f"{' --out ' + shown if named else ''}`)")
    try:
        data = read_region_prices(path, shown)
    except pricing.PricingError as e:
        given = str(e).removeprefix(f"{shown}: ")
        return fallback, [ConfigIssue(path=key, given=f"{shown}, which {given}" if named else given, allowed=allowed)]
    if data.region != platform.region:
        return fallback, [ConfigIssue(path=key, given=f"{shown} holds prices for {data.region}",
                                      allowed=f"{allowed}; aws:region is {platform.region}")]
    return pricing.price_book(platform.region, data=data), []
