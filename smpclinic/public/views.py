"""The public site: thin views over the catalogue's and the site's selectors. Anonymous visitors
get the pages from the cache (bookings.pagecache); the results photos themselves never are."""

from __future__ import annotations

import mimetypes

from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

from bookings.pagecache import anonymous_page_cache
from treatments.selectors import (
    aftercare_milestone_list,
    page_content,
    treatment_get_public,
    treatment_list_public,
    treatment_price_table,
    treatment_touch_ups_public,
)

from .jsonld import locations_jsonld
from .selectors import (
    location_list_public,
    location_list_with_hours,
    location_week,
    photo_get_public,
    result_pair_list,
)

PHOTO_TYPES = {"image/jpeg", "image/png", "image/webp"}
# The newest pairs only: one long page of photos is slow on a phone.
RESULTS_PER_PAGE = 48


@require_safe
@anonymous_page_cache()
def home(request: HttpRequest) -> HttpResponse:
    locations = list(location_list_with_hours())
    return render(
        request,
        "treatments/home.html",
        {
            "page": page_content(key="home"),
            "treatments": treatment_list_public(),
            "locations": locations,
            "pairs": result_pair_list(limit=3),
            "jsonld": locations_jsonld(request=request, locations=locations),
        },
    )


@require_safe
@anonymous_page_cache()
def treatment_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "treatments/treatment_list.html",
        {
            "page": page_content(key="treatments"),
            "treatments": treatment_list_public(),
            "touch_ups": treatment_touch_ups_public(),
        },
    )


@require_safe
@anonymous_page_cache()
def treatment_detail(request: HttpRequest, slug: str) -> HttpResponse:
    treatment = treatment_get_public(slug=slug)
    if treatment is None:
        raise Http404("No such treatment")
    locations = list(location_list_public())
    return render(
        request,
        "treatments/treatment_detail.html",
        {
            "treatment": treatment,
            "prices": treatment_price_table(treatment=treatment, locations=locations),
            "locations": locations,
        },
    )


@require_safe
@anonymous_page_cache()
def aftercare(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "treatments/aftercare.html",
        {"page": page_content(key="aftercare"), "milestones": aftercare_milestone_list()},
    )


@require_safe
@anonymous_page_cache(params=["treatment"])
def results(request: HttpRequest) -> HttpResponse:
    treatments = list(treatment_list_public())
    wanted = request.GET.get("treatment", "").strip()
    known = {treatment.slug for treatment in treatments}
    status = 200
    error = ""
    if wanted and wanted not in known:
        # A stale or mistyped link: say so and show every result instead of failing.
        status = 400
        error = "We don't have a treatment by that name, so here are all our results."
        wanted = ""
    return render(
        request,
        "treatments/results.html",
        {
            "page": page_content(key="results"),
            "treatments": treatments,
            "selected": wanted,
            "error": error,
            "pairs": result_pair_list(treatment_slug=wanted or None, limit=RESULTS_PER_PAGE),
        },
        status=status,
    )


# Consent can be withdrawn at any moment, so no browser or proxy may keep a copy.
@cache_control(no_store=True)
@require_safe
def results_photo(request: HttpRequest, pk: int, size: str) -> FileResponse:
    photo = photo_get_public(pk=pk) if size in {"thumb", "full"} else None
    if photo is None:
        raise Http404("No such photo")
    field = photo.thumbnail if size == "thumb" and photo.thumbnail else photo.image
    content_type, _ = mimetypes.guess_type(field.name)
    if content_type not in PHOTO_TYPES:
        raise Http404("No such photo")
    try:
        handle = field.open("rb")
    except FileNotFoundError as exc:
        raise Http404("No such photo") from exc
    response = FileResponse(handle, content_type=content_type)
    response["Content-Disposition"] = "inline"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


@require_safe
@anonymous_page_cache()
def locations(request: HttpRequest) -> HttpResponse:
    locations = list(location_list_with_hours())
    return render(
        request,
        "treatments/locations.html",
        {
            "page": page_content(key="locations"),
            "locations": [(location, location_week(location)) for location in locations],
            "jsonld": locations_jsonld(request=request, locations=locations),
        },
    )


@require_safe
@anonymous_page_cache()
def privacy(request: HttpRequest) -> HttpResponse:
    return render(request, "treatments/privacy.html", {"page": page_content(key="privacy")})
