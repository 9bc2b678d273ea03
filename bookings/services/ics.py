"""Calendar files (.ics) for the booking messages.

One appointment is one calendar event for its whole life: the UID is fixed by its reference,
and SEQUENCE is the appointment's `ics_sequence` when the message was queued, which every
move and cancel raises. Calendar apps (Google, Outlook, Apple) then replace the event a
later file names instead of adding a second one, and drop it on METHOD:CANCEL. Confirmation
and move are METHOD:REQUEST (the same method throughout, with the same ORGANIZER, which is
how the apps match an update or a cancel to the event they hold). Times are written in UTC,
so every app shows the right local time, across clock changes too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parseaddr

from django.conf import settings
from icalendar import Calendar, Event, vCalAddress, vText

from bookings.models import ClientMessage
from bookings.services.messaging import message_times

Kind = ClientMessage.Kind


def event_uid(appointment) -> str:
    return f"{appointment.reference}@smpclinic"


def message_ics(*, message: ClientMessage, manage_url: str, now: datetime) -> tuple[bytes, str]:
    """The calendar file a change message carries, and its METHOD."""
    appointment = message.appointment
    cancelled = message.kind == Kind.CANCELLED
    method = "CANCEL" if cancelled else "REQUEST"
    start, end = message_times(message)
    cal = Calendar()
    cal.add("prodid", f"-//{settings.CLINIC_NAME}//Bookings//EN")
    cal.add("version", "2.0")
    cal.add("method", method)
    # Calendars that show a calendar-level zone show the clinic's; the event times stay UTC.
    cal.add("x-wr-timezone", appointment.location.time_zone)
    event = Event()
    event.add("uid", event_uid(appointment))
    event.add("sequence", message.sequence)
    event.add("dtstamp", now.astimezone(UTC))
    event.add("dtstart", start.astimezone(UTC))
    event.add("dtend", end.astimezone(UTC))
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("summary", f"{appointment.get_kind_display()} at {settings.CLINIC_NAME} ({appointment.reference})")
    loc = appointment.location
    event.add("location", ", ".join(p for p in (loc.name, loc.address_line1, loc.city, loc.postcode) if p))
    if cancelled:
        event.add("description", f"Reference {appointment.reference}: cancelled.")
    else:
        event.add("description", f"Reference {appointment.reference}. See, move or cancel: {manage_url}")
        event.add("url", manage_url)
    clinic_name, clinic_address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    organizer = vCalAddress(f"mailto:{clinic_address}")
    organizer.params["cn"] = vText(clinic_name or settings.CLINIC_NAME)
    event.add("organizer", organizer)
    if appointment.client.email:
        attendee = vCalAddress(f"mailto:{appointment.client.email}")
        attendee.params["cn"] = vText(appointment.client.first_name)
        attendee.params["role"] = vText("REQ-PARTICIPANT")
        attendee.params["partstat"] = vText("ACCEPTED")
        attendee.params["rsvp"] = vText("FALSE")
        event.add("attendee", attendee, encode=0)
    cal.add_component(event)
    return cal.to_ical(), method
