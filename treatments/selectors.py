"""Reads of the catalogue for the public site, each a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.db.models import Min, Prefetch, Q, QuerySet

from .models import AftercareMilestone, Page, PageSection, PriceBand, PriceGuide, Treatment
from .money import DEFAULT_CURRENCY

if TYPE_CHECKING:
    # A bookings.Location, typed as the Model it is: the catalogue sits below bookings, never imports it.
    from django.db.models import Model as Location

BAND_ORDER = {value: index for index, value in enumerate(PriceBand.values)}
# "From £X" counts clinic-wide prices and those of clinics that are open, never a closed one's.
LOWEST_PRICE = Min(
    "price_guides__price_from_minor",
    filter=Q(price_guides__location__isnull=True) | Q(price_guides__location__is_active=True),
)


def treatment_list_public() -> QuerySet[Treatment]:
    """The courses shown on the site, cheapest-first price attached; touch-ups are listed apart."""
    return (
        Treatment.objects.filter(is_active=True)
        .exclude(category=Treatment.Category.TOUCH_UP)
        .annotate(price_from_minor=LOWEST_PRICE)
        .order_by("order", "name")  # Meta.ordering does not apply to GROUP BY queries
    )


def treatment_touch_ups_public() -> QuerySet[Treatment]:
    return (
        Treatment.objects.filter(is_active=True, category=Treatment.Category.TOUCH_UP)
        .annotate(price_from_minor=LOWEST_PRICE)
        .order_by("order", "name")
    )


def treatment_get_public(*, slug: str) -> Treatment | None:
    """One active treatment with its price guides for active locations (two queries)."""
    guides = PriceGuide.objects.filter(Q(location__isnull=True) | Q(location__is_active=True))
    return (
        Treatment.objects.filter(is_active=True, slug=slug)
        .prefetch_related(Prefetch("price_guides", queryset=guides.select_related("location")))
        .first()
    )


# Price guides -----------------------------------------------------------------


@dataclass(frozen=True)
class PriceCell:
    """A band's guide price, integers of minor units in ``currency`` (touch-up prices likewise)."""

    price_from: int
    price_to: int | None
    touch_up_from: int | None = None
    touch_up_to: int | None = None
    currency: str = DEFAULT_CURRENCY


@dataclass
class PriceRow:
    band: str
    label: str
    cells: list[PriceCell | None]


@dataclass
class PriceTable:
    columns: list[str]
    rows: list[PriceRow] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.rows)


def treatment_price_table(*, treatment: Treatment, locations: list[Location]) -> PriceTable:
    """Price guide by band, one column per location; a location's own price overrides the
    clinic-wide one for that band. With no overrides at all, one column serves every clinic."""
    guides = list(treatment.price_guides.all())  # prefetched by treatment_get_public
    active_ids = {location.pk for location in locations}
    clinic_wide = {guide.band: guide for guide in guides if guide.location_id is None}
    overrides = {
        (guide.location_id, guide.band): guide
        for guide in guides
        if guide.location_id is not None and guide.location_id in active_ids
    }
    with_touch_up = treatment.category != Treatment.Category.TOUCH_UP

    def cell(guide: PriceGuide | None) -> PriceCell | None:
        if guide is None:
            return None
        if not with_touch_up:
            return PriceCell(guide.price_from_minor, guide.price_to_minor, currency=guide.currency)
        return PriceCell(
            guide.price_from_minor,
            guide.price_to_minor,
            treatment.touch_up_price(guide.price_from_minor),
            treatment.touch_up_price(guide.price_to_minor) if guide.price_to_minor is not None else None,
            guide.currency,
        )

    bands = sorted({*clinic_wide, *(band for _, band in overrides)}, key=lambda band: BAND_ORDER.get(band, 99))
    labels = dict(PriceBand.choices)
    if not overrides or not locations:
        table = PriceTable(columns=["All clinics"])
        for band in bands:
            if band in clinic_wide:
                table.rows.append(PriceRow(band, labels.get(band, band), [cell(clinic_wide[band])]))
        return table
    table = PriceTable(columns=[location.name for location in locations])
    for band in bands:
        cells = [cell(overrides.get((location.pk, band), clinic_wide.get(band))) for location in locations]
        table.rows.append(PriceRow(band, labels.get(band, band), cells))
    return table


# Page copy and aftercare ---------------------------------------------------------


@dataclass
class PageContent:
    key: str
    title: str
    meta_description: str = ""
    intro: str = ""
    sections: list[PageSection] = field(default_factory=list)


def page_content(*, key: str) -> PageContent:
    """The staff-edited copy of a page; if a manager deleted it, the page still renders with a title."""
    page = Page.objects.filter(key=key).prefetch_related("sections").first()
    if page is None:
        return PageContent(key=key, title=Page.Key(key).label)
    return PageContent(
        key=key,
        title=page.title,
        meta_description=page.meta_description,
        intro=page.intro,
        sections=list(page.sections.all()),
    )


def aftercare_milestone_list() -> QuerySet[AftercareMilestone]:
    return AftercareMilestone.objects.all()
