"""schema.org data for the clinics, for search engines (rendered as application/ld+json)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from bookings.models import Location

from .selectors import location_week


def locations_jsonld(*, request: HttpRequest, locations: list[Location]) -> dict:
    """Locations must come with their opening hours prefetched (location_list_with_hours)."""
    graph = []
    for location in locations:
        street = ", ".join(part for part in (location.address_line1, location.address_line2) if part)
        item = {
            "@type": "HealthAndBeautyBusiness",
            "@id": request.build_absolute_uri(location.get_absolute_url()),
            "name": f"{settings.CLINIC_NAME} {location.name}",
            "url": request.build_absolute_uri(location.get_absolute_url()),
            "telephone": location.phone,
            "address": {
                "@type": "PostalAddress",
                "streetAddress": street,
                "addressLocality": location.city,
                "postalCode": location.postcode,
                "addressCountry": "GB",
            },
            "openingHoursSpecification": [
                {
                    "@type": "OpeningHoursSpecification",
                    "dayOfWeek": f"https://schema.org/{day.name}",
                    "opens": f"{hours.opens:%H:%M}",
                    "closes": f"{hours.closes:%H:%M}",
                }
                for day in location_week(location)
                for hours in day.intervals
            ],
        }
        if location.email:
            item["email"] = location.email
        if location.latitude is not None and location.longitude is not None:
            item["geo"] = {
                "@type": "GeoCoordinates",
                "latitude": float(location.latitude),
                "longitude": float(location.longitude),
            }
        graph.append(item)
    return {"@context": "https://schema.org", "@graph": graph}
