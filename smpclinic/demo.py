"""The demo clinic: three locations, six technicians (two or more per location), the
catalogue, and a diary around the moment of seeding: twelve weeks of history (consultations,
courses, touch-ups, no-shows, early and late cancellations, the messages each one sent, one that
failed), this week nearly fully booked with today's appointments moved on through the status
services, and three weeks ahead with their reminders pending.

The catalogue is keyed on natural keys and created with get_or_create; the people and the diary
are made once (seeding again changes nothing), in bulk, with their outbox rows written as the
services write them (same kinds, channels, sequences and due times; test_seed_demo checks the
two agree). The random numbers are seeded, so the same moment gives the same clinic.
"""

from __future__ import annotations

import base64
import functools
import random
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import holidays
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from bookings.models import (
    REFERENCE_ALPHABET,
    REFERENCE_PREFIX,
    Appointment,
    Break,
    ClientMessage,
    Closure,
    Course,
    DepositPolicy,
    Location,
    OpeningHours,
    Technician,
    WorkingHours,
)
from bookings.models_stock import Batch, Product, SessionBatch
from bookings.services.appointments import (
    appointment_arrive,
    appointment_complete,
    appointment_confirm,
    appointment_mark_no_show,
    appointment_staff_cancel,
)
from bookings.services.messaging import (
    AFTERCARE_DAYS,
    AFTERCARE_TOO_LATE,
    INTAKE_REMINDER_DAYS,
    INTAKE_REMINDER_GRACE,
    REMINDER_LEAD,
    REMINDER_MIN_NOTICE,
    TREATED_KINDS,
    UPCOMING_STATUSES,
    change_channels,
    channel_for,
    send_time_on,
)
from bookings.zones import add_months, local_date
from clients.models import Assessment, Client, ConsentRecord, ConsentWording, PatchTest, Photo, SessionNote
from clients.photos import photo_clean
from clients.roles import roles_ensure
from smpclinic.demo_photos import jpeg, scalp_pair
from treatments.models import PriceGuide, Treatment

# The demo's clinics are all in England (UK bank holidays, UK phone numbers): one zone for all.
DEMO_ZONE = "Europe/London"
LONDON = ZoneInfo(DEMO_ZONE)
SEED = 2026

LOCATIONS = [
    {
        "slug": "manchester",
        "name": "Manchester",
        "address_line1": "12 King Street",
        "city": "Manchester",
        "postcode": "M2 4WU",
        "phone": "0161 496 0000",
        "email": "manchester@smpclinic.example",
        "directions": "Five minutes' walk from St Peter's Square tram stop. Ring the bell marked SMP on the "
        "second floor; there is a lift. Nearest parking: NCP King Street.",
        "latitude": Decimal("53.48127"),
        "longitude": Decimal("-2.24501"),
        "order": 1,
    },
    {
        "slug": "preston",
        "name": "Preston",
        "address_line1": "3 Winckley Square",
        "city": "Preston",
        "postcode": "PR1 3JJ",
        "phone": "01772 496 000",
        "email": "preston@smpclinic.example",
        "directions": "Ten minutes from Preston station along Fishergate. Ground floor, step-free entrance "
        "on the square. Pay-and-display parking on Winckley Street.",
        "latitude": Decimal("53.75675"),
        "longitude": Decimal("-2.70152"),
        "order": 2,
    },
    {
        "slug": "nottingham",
        "name": "Nottingham",
        "address_line1": "40 Bridlesmith Gate",
        "city": "Nottingham",
        "postcode": "NG1 2GP",
        "phone": "0115 496 0000",
        "email": "nottingham@smpclinic.example",
        "directions": "In the Lace Market, four minutes from the Old Market Square tram stop. First floor, "
        "entrance beside the bookshop. Parking at Broadmarsh car park.",
        "latitude": Decimal("52.95213"),
        "longitude": Decimal("-1.14710"),
        "order": 3,
    },
]

# Opening hours per location: weekday -> (opens, closes).
OPENING = {
    "manchester": {d: (time(9), time(18)) for d in range(6)},
    "preston": {d: (time(9), time(17, 30)) for d in (0, 2, 3, 4)},
    "nottingham": {d: (time(9), time(17, 30)) for d in range(5)},
}

TECHNICIANS = [
    # username, display name, {location: weekdays}
    ("amara", "Amara Okafor", {"manchester": (0, 1, 2, 3, 4)}),
    ("ben", "Ben Hargreaves", {"manchester": (1, 2, 3, 4, 5)}),
    ("chloe", "Chloe Whitfield", {"preston": (0, 2, 4), "manchester": (3,)}),
    ("dev", "Dev Patel", {"nottingham": (0, 1, 2, 3, 4)}),
    ("erin", "Erin Walsh", {"preston": (0, 2, 3, 4)}),
    ("farid", "Farid Rahman", {"nottingham": (0, 1, 2, 3, 4)}),
]
# Reception's demo login: the admin's diary, day board and outbox, without clinical records.
DEMO_RECEPTION = "reception"

TREATMENTS = [
    {
        "slug": "hairline-design",
        "name": "Hairline design",
        "category": Treatment.Category.HAIRLINE,
        "summary": "A new, natural hairline for receding hair, drawn with you to suit your face and age.",
        "who_for": "Men with a receding hairline, from Norwood 2 to Norwood 7, who want the look of a "
        "closely shaved head with a defined front.",
        "description": "At your consultation we draw the hairline on your scalp together and adjust it until "
        "it looks right to you. Over two or three sessions we build density from the front backwards, "
        "matching the pigment to your natural colour.",
        "aftercare_brief": "Keep the scalp dry for four days, avoid sweating until day 7, and use sunscreen for life.",
        "sessions": (2, 3),
        "minutes": (180, 300),
        "order": 1,
        "prices": {
            "N2": (1000, 1300),
            "N3": (1200, 1600),
            "N4": (1600, 2000),
            "N5": (2000, 2500),
            "N6": (2500, 3000),
            "N7": (3000, 3500),
        },
    },
    {
        "slug": "alopecia",
        "name": "Alopecia",
        "category": Treatment.Category.ALOPECIA,
        "summary": "Disguises patches or recreates a full shaved look for alopecia and hair loss after chemotherapy.",
        "who_for": "Anyone with alopecia areata, totalis, scarring or traction alopecia, or hair loss after "
        "chemotherapy or from medicines.",
        "description": "Patches are blended into the surrounding hair; for total hair loss we recreate a "
        "full, closely shaved head. We work at your pace and check your skin between sessions.",
        "aftercare_brief": "As for every session: dry for four days, no sweating until day 7, sunscreen for life.",
        "sessions": (2, 3),
        "minutes": (120, 300),
        "order": 2,
        "prices": {"small": (300, 450), "crown": (1000, 1500), "full": (2500, 3500)},
    },
    {
        "slug": "scar-camouflage",
        "name": "Scar camouflage",
        "category": Treatment.Category.SCAR_CAMOUFLAGE,
        "summary": "Hides hair-transplant scars (FUT strip and FUE punch marks), accident and surgery scars "
        "and birthmarks.",
        "who_for": "Clients with scars in the scalp from hair transplants, surgery or accidents, or with "
        "birthmarks, who want them to blend into the surrounding hair.",
        "description": "Scar tissue takes pigment differently, so we work in short sessions and check how "
        "it settles before adding more.",
        "aftercare_brief": "Keep the area dry for four days and out of the sun; moisturise from day 5.",
        "sessions": (2, 3),
        "minutes": (120, 180),
        "order": 3,
        "prices": {"small": (300, 450)},
    },
    {
        "slug": "density",
        "name": "Density",
        "category": Treatment.Category.DENSITY,
        "summary": "Pigment beneath thinning hair makes it look thicker, often for women who keep their hair long.",
        "who_for": "Men and women whose hair is thinning but still present, including women with Ludwig "
        "I-III thinning who keep long hair.",
        "description": "Pigment between the hairs reduces the contrast between hair and scalp, so the hair "
        "you have looks fuller. No shaving needed.",
        "aftercare_brief": "Don't wash your hair for four days; gentle washing with mild shampoo from day 10.",
        "sessions": (2, 3),
        "minutes": (150, 240),
        "order": 4,
        "prices": {"L1": (1000, 1400), "L2": (1400, 1900), "L3": (1900, 2600), "N3": (1200, 1600), "N4": (1500, 2000)},
    },
    {
        "slug": "touch-up",
        "name": "Touch-up",
        "category": Treatment.Category.TOUCH_UP,
        "summary": "A single session to refresh pigment that has lightened over the years.",
        "who_for": "Returning clients whose pigment has faded, usually two to five years after their course.",
        "description": "One session, about a quarter of the original treatment's price.",
        "aftercare_brief": "The same aftercare as your original sessions.",
        "sessions": (1, 1),
        "minutes": (90, 180),
        "order": 5,
        "prices": {"small": (100, 150), "crown_hairline": (400, 700), "full": (650, 900)},
    },
]

# City pricing: Manchester's own prices for some bands.
MANCHESTER_PRICES = {"hairline-design": {"N5": (2200, 2700), "N6": (2700, 3200), "N7": (3200, 3500)}}

CONSENT_TEXTS = {
    ConsentWording.Kind.TREATMENT: "I understand what scalp micropigmentation involves, its normal reactions "
    "and rare risks, and the aftercare I must follow, and I consent to treatment.",
    ConsentWording.Kind.HEALTH_DATA: "I consent to the clinic keeping my health information (medical "
    "history, allergies, assessment and session notes) to treat me safely.",
    ConsentWording.Kind.CLINICAL_PHOTOS: "I consent to clinical photos of my scalp being taken and kept "
    "privately in my record.",
    ConsentWording.Kind.MARKETING_PHOTOS: "I consent to my before and after photos, with no name, being "
    "shown on the clinic's results page. I can withdraw this at any time.",
    ConsentWording.Kind.MARKETING_MESSAGES: "I would like to hear about offers and news by e-mail.",
}

FIRST_NAMES = [
    "James",
    "Oliver",
    "Mohammed",
    "Harry",
    "Jack",
    "George",
    "Noah",
    "Leo",
    "Jacob",
    "Oscar",
    "Charlie",
    "Muhammad",
    "Thomas",
    "Arthur",
    "Kwame",
    "Daniel",
    "Liam",
    "Ryan",
    "Sam",
    "Tom",
    "Olivia",
    "Amelia",
    "Priya",
    "Sophie",
    "Grace",
    "Chloe",
    "Aisha",
    "Emma",
    "Jess",
    "Lucy",
]
LAST_NAMES = [
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Johnson",
    "Davies",
    "Patel",
    "Wright",
    "Robinson",
    "Thompson",
    "Evans",
    "Walker",
    "Mensah",
    "White",
    "Roberts",
    "Green",
    "Hall",
    "Wood",
    "Jackson",
    "Clarke",
    "Khan",
    "Hughes",
    "Edwards",
    "Lewis",
    "Begum",
    "Turner",
    "Hill",
    "Moore",
]


@dataclass
class SeedReport:
    created: int = 0

    def count(self, created: bool) -> None:
        self.created += int(created)


def _aware(day: date, at: time) -> datetime:
    return timezone.make_aware(datetime.combine(day, at), LONDON)


@functools.cache
def _demo_password_hash() -> str:
    # Hashed once for all the demo logins (a hash costs about a second on purpose): they share
    # one published password anyway.
    return make_password(settings.DEMO_STAFF_PASSWORD)


def _iso(moment: datetime) -> str:
    # As the outbox freezes a change message's times (UTC, ISO 8601).
    return moment.astimezone(UTC).isoformat()


def seed_demo(*, today: date | None = None) -> SeedReport:
    report = SeedReport()
    today = today or timezone.localdate()
    with transaction.atomic():
        if (
            Location.objects.filter(slug="manchester").exists()
            # The earlier, smaller demo named its first client demo.client01: a database seeded
            # by it keeps its diary (seeding over it would double-book its technicians).
            and Client.objects.filter(email__in=["demo.client001@example.com", "demo.client01@example.com"]).exists()
        ):
            _seed_catalogue(report)  # fills anything a manager deleted; creates nothing otherwise
            return report
        _seed_catalogue(report)
        _seed_people(report, today)
    return report


DEMO_DEVICE_NAME = "Demo authenticator"


def demo_second_factor_seed(manager) -> bool:
    """The demo manager's authenticator app, on the published demo secret (settings)."""
    key = base64.b32decode(settings.DEMO_STAFF_TOTP_SECRET).hex()
    _, created = TOTPDevice.objects.get_or_create(
        user=manager, name=DEMO_DEVICE_NAME, defaults={"key": key, "confirmed": True}
    )
    return created


def _seed_catalogue(report: SeedReport) -> None:
    User = get_user_model()
    manager, created = User.objects.get_or_create(
        username=settings.DEMO_STAFF_USERNAME,
        defaults={
            "is_staff": True,
            "is_superuser": True,
            "first_name": "Demo",
            "last_name": "Manager",
            "email": "manager@smpclinic.example",
        },
    )
    if created:
        manager.password = _demo_password_hash()
        manager.save(update_fields=["password"])
    report.count(created)
    report.count(demo_second_factor_seed(manager))

    locations = {}
    for data in LOCATIONS:
        location, created = Location.objects.get_or_create(slug=data["slug"], defaults={**data, "time_zone": DEMO_ZONE})
        locations[location.slug] = location
        report.count(created)
        for weekday, (opens, closes) in OPENING[location.slug].items():
            _, created = OpeningHours.objects.get_or_create(
                location=location, weekday=weekday, defaults={"opens": opens, "closes": closes}
            )
            report.count(created)

    treatments = {}
    for data in TREATMENTS:
        data = dict(data)
        prices = data.pop("prices")
        sessions_min, sessions_max = data.pop("sessions")
        minutes_min, minutes_max = data.pop("minutes")
        touch_up = data["category"] == Treatment.Category.TOUCH_UP
        defaults = {
            **data,
            "sessions_min": sessions_min,
            "sessions_max": sessions_max,
            "session_minutes_min": minutes_min,
            "session_minutes_max": minutes_max,
            "spacing_days_min": 0 if touch_up else 14,
            "spacing_days_max": 0 if touch_up else 21,
            # A patch test before a first course session (a returning client's touch-up needs none).
            "needs_patch_test": not touch_up,
            "meta_description": data["summary"][:160],
        }
        treatment, created = Treatment.objects.get_or_create(slug=data["slug"], defaults=defaults)
        treatments[treatment.slug] = treatment
        report.count(created)
        for band, (low, high) in prices.items():
            _, created = PriceGuide.objects.get_or_create(
                treatment=treatment,
                location=None,
                band=band,
                defaults={"price_from_minor": low * 100, "price_to_minor": high * 100},  # pounds -> pence
            )
            report.count(created)
    for slug, prices in MANCHESTER_PRICES.items():
        for band, (low, high) in prices.items():
            _, created = PriceGuide.objects.get_or_create(
                treatment=treatments[slug],
                location=locations["manchester"],
                band=band,
                defaults={"price_from_minor": low * 100, "price_to_minor": high * 100},  # pounds -> pence
            )
            report.count(created)

    for username, name, schedule in TECHNICIANS:
        first, last = name.split(" ", 1)
        user, created = User.objects.get_or_create(
            username=username,
            defaults={"first_name": first, "last_name": last, "email": f"{username}@smpclinic.example"},
        )
        if created:
            user.password = _demo_password_hash()
            user.save(update_fields=["password"])
        report.count(created)
        tech, created = Technician.objects.get_or_create(user=user, defaults={"display_name": name})
        report.count(created)
        # The role the clients roles migration made: opens the /staff/ workspace.
        roles_ensure()
        user.groups.add(Group.objects.get(name="Technician"))
        if created:
            tech.locations.set([locations[slug] for slug in schedule])
            tech.treatments.set(treatments.values())
        for slug, weekdays in schedule.items():
            for weekday in weekdays:
                _, created = WorkingHours.objects.get_or_create(
                    technician=tech,
                    location=locations[slug],
                    weekday=weekday,
                    defaults={"start_time": time(9), "end_time": time(17, 30)},
                )
                report.count(created)
                _, created = Break.objects.get_or_create(
                    technician=tech, weekday=weekday, defaults={"start_time": time(13), "end_time": time(13, 45)}
                )
                report.count(created)

    reception, created = User.objects.get_or_create(
        username=DEMO_RECEPTION,
        defaults={
            "first_name": "Rosa",
            "last_name": "Reception",
            "email": "reception@smpclinic.example",
            "is_staff": True,
        },
    )
    if created:
        reception.password = _demo_password_hash()
        reception.save(update_fields=["password"])
    report.count(created)
    roles_ensure()
    reception.groups.add(Group.objects.get(name="Reception"))

    # Last year's too: the diary's history may reach back over New Year.
    year = timezone.localdate().year
    for year_ in (year - 1, year, year + 1):
        for day, name in sorted(holidays.country_holidays("GB", subdiv="ENG", years=year_).items()):
            _, created = Closure.objects.get_or_create(
                location=None, start_date=day, end_date=day, defaults={"reason": name}
            )
            report.count(created)

    for kind, text in CONSENT_TEXTS.items():
        _, created = ConsentWording.objects.get_or_create(
            kind=kind, version=1, defaults={"text": text, "effective_from": _aware(date(2026, 1, 1), time(0))}
        )
        report.count(created)

    # Sessions booked online (/book/session/) take a £50 deposit, refundable until 48 hours
    # before; consultations stay free. Paid on the local Stripe stub when there is no key.
    _, created = DepositPolicy.objects.get_or_create(
        kind=DepositPolicy.Kind.TREATMENT_SESSION,
        location=None,
        treatment=None,
        defaults={"amount_minor": 5000, "currency": "GBP", "refundable_until_hours": 48},
    )
    report.count(created)


# The diary ------------------------------------------------------------------------------------

HISTORY_WEEKS = 12
AHEAD_WEEKS = 3
CONSULTATION = Appointment.Kind.CONSULTATION
SESSION = Appointment.Kind.TREATMENT_SESSION
TOUCH_UP = Appointment.Kind.TOUCH_UP
Status = Appointment.Status
M = ClientMessage.Kind

# A technician's day (09:00-17:30, break 13:00-13:45): (start, minutes, kind). One is picked per
# day, so a week has the mix a clinic has: long sessions, consultations, touch-ups, a gap or two.
DAY_PLANS = [
    [
        (time(9), 180, SESSION),
        (time(12), 45, CONSULTATION),
        (time(13, 45), 120, TOUCH_UP),
        (time(16), 45, CONSULTATION),
    ],
    [(time(9), 45, CONSULTATION), (time(10), 45, CONSULTATION), (time(11), 90, TOUCH_UP), (time(13, 45), 180, SESSION)],
    [(time(9), 240, SESSION), (time(13, 45), 180, SESSION)],
    [
        (time(9, 30), 90, TOUCH_UP),
        (time(11, 15), 45, CONSULTATION),
        (time(12), 45, CONSULTATION),
        (time(13, 45), 180, SESSION),
    ],
    [
        (time(9), 150, SESSION),
        (time(11, 45), 45, CONSULTATION),
        (time(13, 45), 45, CONSULTATION),
        (time(14, 45), 150, SESSION),
    ],
]
# How much of each plan is booked: nearly all of this week, less of the past and the weeks ahead.
DENSITY_THIS_WEEK, DENSITY_PAST, DENSITY_NEXT_WEEK, DENSITY_LATER = 0.93, 0.6, 0.65, 0.35
CONVERSION = 0.6  # consultations that become a course
NO_SHOW_RATE, CANCEL_RATE, LATE_CANCEL_SHARE = 0.04, 0.08, 0.5


@dataclass
class _Waiting:
    """A course whose next session is still to be put in the diary."""

    client: Client
    course: Course
    number: int
    earliest: date
    location_id: int
    after: datetime  # when the previous visit was (the next session is booked there)


@dataclass
class _Slot:
    start: datetime
    end: datetime
    kind: str
    tech: Technician
    location: Location


class _People:
    """Makes the demo's clients in memory, numbered so re-running picks the same names."""

    def __init__(self, rng: random.Random, treatments: dict[str, Treatment]):
        self.rng = rng
        self.treatments = treatments
        self.clients: list[Client] = []
        self.profile: dict[int, tuple[Treatment, str, str]] = {}

    def new(self) -> Client:
        n = len(self.clients) + 1
        first_index = (n * 7) % len(FIRST_NAMES)
        client = Client(
            first_name=FIRST_NAMES[first_index],
            last_name=LAST_NAMES[(n * 11 + n // len(LAST_NAMES)) % len(LAST_NAMES)],
            email=f"demo.client{n:03d}@example.com",
            # A third of them gave no mobile number (e-mail only).
            phone="" if n % 3 == 2 and n % 5 else f"07700 900{n % 1000:03d}",
            date_of_birth=date(1962 + (n * 7) % 38, 1 + n % 12, 1 + (n * 3) % 27),
            preferred_channel=Client.Channel.SMS if n % 5 == 0 else Client.Channel.EMAIL,
            reminders_opt_in=n % 11 != 0,
            marketing_email_opt_in=n % 3 == 0,
        )
        self.clients.append(client)
        if first_index >= 20:  # the women in FIRST_NAMES
            profile = (
                self.treatments["density"],
                self.rng.choice(["L1", "L2", "L3"]),
                Assessment.HairLossType.FEMALE_PATTERN,
            )
        else:
            roll = self.rng.random()
            if roll < 0.12:
                profile = (self.treatments["scar-camouflage"], "small", Assessment.HairLossType.TRANSPLANT_SCAR)
            elif roll < 0.24:
                profile = (
                    self.treatments["alopecia"],
                    self.rng.choice(["small", "crown", "full"]),
                    Assessment.HairLossType.ALOPECIA_AREATA,
                )
            else:
                profile = (
                    self.treatments["hairline-design"],
                    self.rng.choice(["N2", "N3", "N4", "N5", "N6", "N7"]),
                    Assessment.HairLossType.MALE_PATTERN,
                )
        self.profile[id(client)] = profile
        return client


def _slots(*, today: date, techs: list[Technician], hours: dict, closed: set[date], rng: random.Random) -> list[_Slot]:
    monday = today - timedelta(days=today.weekday())
    next_monday = monday + timedelta(days=7)
    day = monday - timedelta(weeks=HISTORY_WEEKS)
    last = monday + timedelta(weeks=AHEAD_WEEKS + 1)
    slots = []
    while day < last:
        if monday <= day < next_monday:
            density = DENSITY_THIS_WEEK
        elif day < monday:
            density = DENSITY_PAST
        else:
            density = DENSITY_NEXT_WEEK if day < next_monday + timedelta(days=7) else DENSITY_LATER
        for tech in techs:
            plan = DAY_PLANS[rng.randrange(len(DAY_PLANS))]
            draws = [rng.random() for _ in plan]
            location = hours[tech.pk].get(day.weekday())
            if location is None or day in closed:
                continue
            for (at, minutes, kind), draw in zip(plan, draws, strict=True):
                # This week only the odd consultation is left free (a gap reception can fill):
                # every working day is mostly booked.
                if draw > density and (density != DENSITY_THIS_WEEK or kind == CONSULTATION):
                    continue
                start = _aware(day, at)
                slots.append(_Slot(start, start + timedelta(minutes=minutes), kind, tech, location))
        day += timedelta(days=1)
    slots.sort(key=lambda s: (s.start, s.tech.pk))
    return slots


def _price(treatment: Treatment, band: str, prices: dict) -> int | None:
    """The middle of the band's guide, to whole pounds, in pence."""
    guide = prices.get((treatment.pk, band))
    if guide is None:
        return None
    return int((Decimal(guide[0] + guide[1]) / 200).quantize(Decimal("1"))) * 100


def _seed_people(report: SeedReport, today: date) -> None:
    rng = random.Random(SEED)
    now = timezone.now()
    monday = today - timedelta(days=today.weekday())
    week_start = _aware(monday, time(0))
    day_start, day_end = _aware(today, time(0)), _aware(today + timedelta(days=1), time(0))
    User = get_user_model()
    reception = User.objects.get(username=DEMO_RECEPTION)
    manager = User.objects.get(username=settings.DEMO_STAFF_USERNAME)
    techs = list(Technician.objects.select_related("user").order_by("user__username"))
    hours: dict[int, dict[int, Location]] = {t.pk: {} for t in techs}
    for wh in WorkingHours.objects.select_related("location"):
        hours[wh.technician_id][wh.weekday] = wh.location
    closed = set(Closure.objects.filter(location=None).values_list("start_date", flat=True))
    wordings = {w.kind: w for w in ConsentWording.objects.all()}
    treatments = {t.slug: t for t in Treatment.objects.all()}
    prices = {
        (g.treatment_id, g.band): (g.price_from_minor, g.price_to_minor)
        for g in PriceGuide.objects.filter(location__isnull=True)
    }
    people = _People(rng, treatments)
    # References drawn from the demo's own random numbers: the same on every seeding, and
    # checked for clashes here (a thousand random ones would clash now and then).
    used = set(Appointment.objects.values_list("reference", flat=True))

    def reference() -> str:
        while True:
            candidate = REFERENCE_PREFIX + "".join(rng.choice(REFERENCE_ALPHABET) for _ in range(5))
            if candidate not in used:
                used.add(candidate)
                return candidate

    courses: list[Course] = []
    appointments: list[Appointment] = []
    waiting: list[_Waiting] = []

    def course_for(client: Client, planned: int, created: datetime) -> Course:
        treatment, band, _ = people.profile[id(client)]
        course = Course(
            client=client,
            treatment=treatment,
            planned_sessions=planned,
            price_band=band,
            price_agreed_minor=_price(treatment, band, prices),
            created_at=created,
        )
        courses.append(course)
        return course

    for slot in _slots(today=today, techs=techs, hours=hours, closed=closed, rng=rng):
        history = slot.start < week_start
        fate = Status.COMPLETED if slot.end <= now else Status.BOOKED
        cancelled_at = None
        if history:
            roll = rng.random()
            if roll < NO_SHOW_RATE:
                fate = Status.NO_SHOW
            elif roll < NO_SHOW_RATE + CANCEL_RATE:
                fate = Status.CANCELLED
                late = roll < NO_SHOW_RATE + CANCEL_RATE * LATE_CANCEL_SHARE
                cancelled_at = slot.start - (
                    timedelta(hours=rng.randint(2, 20)) if late else timedelta(days=rng.randint(3, 12))
                )
        elif slot.start >= day_end and slot.start - now < timedelta(days=2) and rng.random() < 0.5:
            fate = Status.CONFIRMED
        elif day_start <= slot.start < day_end:
            fate = Status.BOOKED  # today's appointments move on through the services below
        booked_at = min(slot.start - timedelta(days=rng.randint(3, 28), hours=rng.randint(0, 8)), now)
        fields = {"course": None, "session_number": None, "channel": Appointment.Channel.STAFF}
        if slot.kind == CONSULTATION:
            client = people.new()
            treatment = people.profile[id(client)][0]
            fields["channel"] = rng.choice(
                [Appointment.Channel.ONLINE, Appointment.Channel.ONLINE, Appointment.Channel.PHONE]
            )
            if fate == Status.COMPLETED and rng.random() < CONVERSION:
                course = course_for(client, rng.choice([2, 3]), slot.end)
                waiting.append(
                    _Waiting(
                        client,
                        course,
                        1,
                        slot.start.date() + timedelta(days=rng.randint(10, 21)),
                        slot.location.pk,
                        slot.end,
                    )
                )
        elif slot.kind == SESSION:
            ready = [w for w in waiting if w.earliest <= slot.start.date() and w.location_id == slot.location.pk]
            if ready:
                entry = min(ready, key=lambda w: w.earliest)
                waiting.remove(entry)
                booked_at = min(max(entry.after, booked_at), now)
            else:
                # A client whose consultation was before the diary's first day.
                client = people.new()
                entry = _Waiting(
                    client, course_for(client, rng.choice([2, 3]), booked_at), 1, slot.start.date(), 0, booked_at
                )
            client, treatment = entry.client, entry.course.treatment
            fields.update(course=entry.course, session_number=entry.number)
            if fate in (Status.NO_SHOW, Status.CANCELLED):
                entry.earliest, entry.location_id = slot.start.date() + timedelta(days=3), slot.location.pk
                waiting.append(entry)
            elif entry.number < entry.course.planned_sessions:
                waiting.append(
                    _Waiting(
                        client,
                        entry.course,
                        entry.number + 1,
                        slot.start.date() + timedelta(days=rng.randint(14, 21)),
                        slot.location.pk,
                        slot.end,
                    )
                )
        else:
            client, treatment = people.new(), treatments["touch-up"]
        appointment = Appointment(
            reference=reference(),
            kind=slot.kind,
            client=client,
            technician=slot.tech,
            location=slot.location,
            treatment=treatment,
            start=slot.start,
            end=slot.end,
            status=fate,
            created_at=booked_at,
            client_message="I'd like to talk about my options." if slot.kind == CONSULTATION else "",
            **fields,
        )
        if fate == Status.COMPLETED:
            appointment.completed_at = slot.end
            appointment.status_changed_at, appointment.status_changed_by = slot.end, slot.tech.user
        elif fate == Status.NO_SHOW:
            appointment.status_changed_at = slot.start + timedelta(minutes=20)
            appointment.status_changed_by = reception
            # As appointment_mark_no_show records it: who marked it and when.
            appointment.no_show_marked_at, appointment.no_show_marked_by = appointment.status_changed_at, reception
        elif fate == Status.CANCELLED:
            appointment.cancelled_at = appointment.status_changed_at = cancelled_at
            appointment.status_changed_by = appointment.cancelled_by = reception
            # As the cancel service records it: late within the policy's window (48 hours by default).
            appointment.cancelled_via = Appointment.CancelledVia.STAFF
            appointment.late_cancellation = slot.start - cancelled_at < timedelta(hours=48)
            appointment.ics_sequence = 1
            appointment.created_at = min(booked_at, cancelled_at - timedelta(days=1))
        elif fate == Status.CONFIRMED:
            appointment.status_changed_at = min(now, slot.start - timedelta(days=1))
            appointment.status_changed_by = reception
        appointments.append(appointment)

    _course_statuses(courses, appointments)
    _id_checks(appointments, now=now)
    _save_with_dates(Client, people.clients, _first_seen(people.clients, appointments))
    for course in courses:
        course.client = course.client  # picks up the client's new primary key
    _save_with_dates(Course, courses, {id(c): c.created_at for c in courses})
    for appointment in appointments:
        appointment.client, appointment.course = appointment.client, appointment.course
    _save_with_dates(Appointment, appointments, {id(a): a.created_at for a in appointments})
    report.count(bool(appointments))

    _history_messages(appointments, now=now)
    today_done = _today(
        appointments,
        day_start=day_start,
        day_end=day_end,
        week_end=_aware(monday + timedelta(days=7), time(0)),
        now=now,
        reception=reception,
        manager=manager,
    )
    _clinical_records(people, appointments, today_done, today=today, wordings=wordings, rng=rng)
    _patch_tests(appointments, now=now)
    _photos(appointments, courses, wordings=wordings)


def _id_checks(appointments: list[Appointment], *, now: datetime) -> None:
    """Photo ID seen at each client's first visit (consultation, or the first session of a client
    whose consultation was before the diary), as the workspace's ID check records it."""
    seen: set[int] = set()
    for appointment in sorted(appointments, key=lambda a: a.start):
        client = appointment.client
        if id(client) in seen or appointment.start > now or appointment.status in (Status.CANCELLED, Status.NO_SHOW):
            continue
        seen.add(id(client))
        client.id_checked_at = appointment.start + timedelta(minutes=5)
        client.id_checked_by = appointment.technician.user
        client.id_document = Client.IdDocument.DRIVING_LICENCE if len(seen) % 3 else Client.IdDocument.PASSPORT


def _patch_tests(appointments: list[Appointment], *, now: datetime) -> None:
    """A clear patch test a week before each client's first session, as the workspace records it:
    the demo's treatments need one, so every first session the diary holds was booked after it."""
    tests: list[PatchTest] = []
    seen: set[int] = set()
    for appointment in sorted(appointments, key=lambda a: a.start):
        if appointment.kind != SESSION or appointment.client_id in seen:
            continue
        seen.add(appointment.client_id)
        tests.append(
            PatchTest(
                client_id=appointment.client_id,
                # Never in the future: a first session tomorrow had its test days ago.
                tested_at=min(appointment.start - timedelta(days=7), now - timedelta(days=3)),
                result=PatchTest.Result.CLEAR,
                notes="No redness or itching after 48 hours.",
                recorded_by=appointment.technician.user,
            )
        )
    PatchTest.objects.bulk_create(tests, batch_size=1000)


def _first_seen(clients: list[Client], appointments: list[Appointment]) -> dict[int, datetime]:
    seen: dict[int, datetime] = {}
    for appointment in appointments:
        key = id(appointment.client)
        seen[key] = min(seen.get(key, appointment.created_at), appointment.created_at)
    return seen


@contextmanager
def _keeping_created_at(model):
    """Let bulk_create write the created_at we set: the demo's bookings were made in the past,
    and one INSERT beats an INSERT plus an UPDATE of every row."""
    field = model._meta.get_field("created_at")
    field.auto_now_add = False
    try:
        yield
    finally:
        field.auto_now_add = True


def _save_with_dates(model, objs: list, created: dict[int, datetime]) -> None:
    for obj in objs:
        obj.created_at = created[id(obj)]
    with _keeping_created_at(model):
        model.objects.bulk_create(objs, batch_size=1000)


def _course_statuses(courses: list[Course], appointments: list[Appointment]) -> None:
    """As bookings.services.appointments._course_follow would leave each course."""
    done: dict[int, list[datetime]] = {}
    for appointment in appointments:
        if appointment.kind == SESSION and appointment.status == Status.COMPLETED:
            done.setdefault(id(appointment.course), []).append(appointment.completed_at)
    for course in courses:
        finished = done.get(id(course), [])
        if len(finished) >= course.planned_sessions:
            course.status, course.completed_at = Course.Status.COMPLETED, max(finished)
        elif finished:
            course.status = Course.Status.IN_PROGRESS
        else:
            course.status = Course.Status.PLANNED


def _sent(row: ClientMessage) -> ClientMessage:
    row.status, row.sent_at, row.attempts = ClientMessage.Status.SENT, row.due_at, 1
    return row


def _owed(appointment: Appointment, *, next_booked: bool) -> dict[str, datetime]:
    """messaging.owed_kinds for a completed session or touch-up, worked out from the diary in
    memory instead of two queries per appointment (test_seed_demo checks that they agree).
    No demo client books a touch-up after a course, so every course's end owes a recall."""
    location, day = appointment.location, local_date(appointment.start, appointment.location)
    owed = {kind: send_time_on(day + timedelta(days=days), location) for kind, days in AFTERCARE_DAYS.items()}
    if not appointment.client.reminders_opt_in:
        return owed
    course = appointment.course
    more_planned = appointment.kind == SESSION and appointment.session_number < course.planned_sessions
    if more_planned and not next_booked:
        owed[M.NEXT_SESSION_PROMPT] = send_time_on(day + timedelta(days=10), location)
    if appointment.kind == TOUCH_UP or appointment.session_number >= course.planned_sessions:
        owed[M.TOUCH_UP_RECALL] = send_time_on(add_months(day, settings.TOUCH_UP_RECALL_MONTHS), location)
    return owed


def _history_messages(appointments: list[Appointment], *, now: datetime) -> None:
    """The outbox as the services would have left it: the rows each booking, cancellation and
    completion wrote (the same kinds, channels, sequences and due times), sent when their time
    has passed. Aftercare due within the last day is left pending: the worker sends it at once."""
    rows: list[ClientMessage] = []
    # Sessions whose course has a later session in the diary (no "book your next session" prompt).
    latest: dict[int, datetime] = {}
    for appointment in appointments:
        if appointment.kind == SESSION and appointment.status in Appointment.ACTIVE_STATUSES:
            latest[id(appointment.course)] = max(
                latest.get(id(appointment.course), appointment.start), appointment.start
            )
    next_booked = {
        id(a)
        for a in appointments
        if a.kind == SESSION and a.course is not None and latest.get(id(a.course), a.start) > a.start
    }
    for appointment in appointments:
        client = appointment.client
        payload = {"start": _iso(appointment.start), "end": _iso(appointment.end)}
        for channel in change_channels(client):
            rows.append(
                _sent(
                    ClientMessage(
                        appointment=appointment,
                        kind=M.CONFIRMATION,
                        channel=channel,
                        due_at=appointment.created_at,
                        payload=payload,
                    )
                )
            )
            if appointment.status == Status.CANCELLED:
                rows.append(
                    _sent(
                        ClientMessage(
                            appointment=appointment,
                            kind=M.CANCELLED,
                            sequence=1,
                            channel=channel,
                            due_at=appointment.cancelled_at,
                            payload=payload,
                        )
                    )
                )
        channel = channel_for(client)
        if client.reminders_opt_in and appointment.start - appointment.created_at >= REMINDER_MIN_NOTICE:
            reminder = ClientMessage(
                appointment=appointment,
                kind=M.REMINDER_48H,
                channel=channel,
                due_at=max(appointment.start - REMINDER_LEAD, appointment.created_at),
            )
            if appointment.status == Status.CANCELLED and appointment.cancelled_at < reminder.due_at:
                reminder.status = ClientMessage.Status.CANCELLED
                rows.append(reminder)
            elif reminder.due_at <= now:
                rows.append(_sent(reminder))
            elif appointment.status in UPCOMING_STATUSES:
                rows.append(reminder)
        if (
            appointment.kind == Appointment.Kind.CONSULTATION
            and appointment.status in UPCOMING_STATUSES
            and client.reminders_opt_in
        ):
            # The intake form's reminder two days before (no demo client has sent the form yet),
            # unless booked inside those two days (the confirmation carried the link).
            day = local_date(appointment.start, appointment.location) - timedelta(days=INTAKE_REMINDER_DAYS)
            due = send_time_on(day, appointment.location)
            if due >= appointment.created_at - INTAKE_REMINDER_GRACE:
                row = ClientMessage(appointment=appointment, kind=M.INTAKE_REMINDER, channel=channel, due_at=due)
                rows.append(_sent(row) if due <= now else row)
        if appointment.status == Status.COMPLETED and appointment.kind in TREATED_KINDS:
            for kind, due in _owed(appointment, next_booked=id(appointment) in next_booked).items():
                row = ClientMessage(appointment=appointment, kind=kind, channel=channel, due_at=due)
                if kind in AFTERCARE_DAYS:
                    rows.append(_sent(row) if due < now - AFTERCARE_TOO_LATE else row)
                else:
                    rows.append(_sent(row) if due <= now else row)
    # One that failed for good: the mail server refused the address, for staff to follow up.
    recent = [
        r
        for r in rows
        if r.kind in AFTERCARE_DAYS
        and r.status == ClientMessage.Status.SENT
        and r.channel == ClientMessage.Channel.EMAIL
        and now - timedelta(days=14) < r.due_at
    ]
    if recent:
        failed = max(recent, key=lambda r: r.due_at)
        failed.status, failed.sent_at = ClientMessage.Status.FAILED, None
        failed.attempts = settings.REMINDERS_MAX_ATTEMPTS
        failed.last_error = "SMTPRecipientsRefused: {'[address]': (550, b'5.1.1 Mailbox unavailable')}"
    ClientMessage.objects.bulk_create(rows, batch_size=1000)


def _today(
    appointments: list[Appointment],
    *,
    day_start: datetime,
    day_end: datetime,
    week_end: datetime,
    now: datetime,
    reception,
    manager,
) -> list[Appointment]:
    """Today's diary moves on through the status services (audit rows, aftercare, the course):
    done ones completed by their technician, the one in the chair arrived, later ones partly
    confirmed, one client missed their appointment. A client also cancels a visit later this week."""
    todays = [a for a in appointments if day_start <= a.start < day_end and a.status == Status.BOOKED]
    per_day = Counter((a.technician_id, a.start.astimezone(LONDON).date()) for a in appointments)
    missed = next(
        (
            a
            for a in todays
            if a.start <= now
            and a.kind != SESSION
            and per_day[(a.technician_id, a.start.astimezone(LONDON).date())] >= 2
        ),
        None,
    )
    done, later = [], 0
    for appointment in todays:
        user = appointment.technician.user
        clinical = user.has_perm("bookings.change_appointment") and user.has_perm("clients.view_clinical")
        if appointment is missed:
            changed = appointment_mark_no_show(appointment=appointment, by=reception, now=now)
        elif appointment.end <= now:
            changed = appointment_complete(appointment=appointment, by=user if clinical else manager, now=now)
            done.append(appointment)
        elif appointment.start <= now:
            changed = appointment_arrive(appointment=appointment, by=reception, now=now)
        else:
            later += 1
            if later % 2 == 0:
                continue  # every other later one has not confirmed yet
            changed = appointment_confirm(appointment=appointment, by=reception, now=now)
        appointment.status, appointment.completed_at = changed.status, changed.completed_at

    later = [
        a
        for a in appointments
        if day_end <= a.start < week_end
        and a.kind == CONSULTATION
        and a.status == Status.BOOKED
        and per_day[(a.technician_id, a.start.astimezone(LONDON).date())] >= 2
    ]
    if later:
        cancelled = appointment_staff_cancel(appointment=later[-1], by=reception, now=now)
        later[-1].status, later[-1].cancelled_at = cancelled.status, cancelled.cancelled_at
    return done


def _clinical_records(
    people: _People,
    appointments: list[Appointment],
    today_done: list[Appointment],
    *,
    today: date,
    wordings,
    rng: random.Random,
) -> None:
    """Consents, assessments and session notes, as the workspace would have filled them in."""
    consents: list[ConsentRecord] = []
    assessments: list[Assessment] = []
    notes: list[SessionNote] = []
    first_visit: dict[int, Appointment] = {}
    for appointment in appointments:
        client = appointment.client
        if id(client) not in first_visit:
            first_visit[id(client)] = appointment
            consents.append(
                ConsentRecord(
                    client=client,
                    wording=wordings[ConsentWording.Kind.HEALTH_DATA],
                    given_at=appointment.created_at,
                    method=ConsentRecord.Method.ONLINE,
                    signed_name=client.full_name,
                )
            )
        if appointment.status != Status.COMPLETED:
            continue
        _, band, loss = people.profile[id(client)]
        tech = appointment.technician
        if appointment is first_visit[id(client)]:
            for kind in (ConsentWording.Kind.TREATMENT, ConsentWording.Kind.CLINICAL_PHOTOS):
                consents.append(
                    ConsentRecord(
                        client=client,
                        wording=wordings[kind],
                        given_at=appointment.start,
                        method=ConsentRecord.Method.TABLET,
                        signed_name=client.full_name,
                        witnessed_by=tech.user,
                    )
                )
        if appointment.kind == CONSULTATION:
            n = len(assessments)
            assessments.append(
                Assessment(
                    client=client,
                    appointment=appointment,
                    assessed_by=tech.user,
                    assessed_at=appointment.start,
                    hair_loss_type=loss,
                    stage=band if band[:1] in ("N", "L") else "",
                    skin_type=rng.choice(list(Assessment.SkinType.values)),
                    skin_tone=rng.choice(list(Assessment.SkinTone.values)),
                    natural_hair_colour=rng.choice(["Dark brown", "Black", "Mid brown", "Light brown"]),
                    pigment_match=rng.choice(["Shade 2", "Shade 2/3 blend", "Shade 3", "Shade 1/2 blend"]),
                    hairline_design_notes="Soft, slightly irregular front; temples kept natural."
                    if band.startswith("N")
                    else "",
                    contraindications="Takes blood thinners: expect more bleeding." if n % 9 == 2 else "",
                    allergies="Allergic to lidocaine: no numbing cream." if n % 8 == 4 else "",
                    suitability=Assessment.Suitability.SUITABLE,
                )
            )
            continue
        number = appointment.session_number or 1
        planned = appointment.course.planned_sessions if appointment.course else 1
        notes.append(
            SessionNote(
                appointment=appointment,
                author=tech.user,
                areas=["hairline", "front"] if band.startswith("N") else ["crown", "mid"],
                depth=rng.choice(["shallow", "standard"]),
                machine_settings="8.5 V, 110 Hz",
                duration_minutes=appointment.duration_minutes,
                numbing_used="EMLA 5%" if len(notes) % 8 != 4 else "",
                reactions=rng.sample(["redness", "swelling", "scabs", "itching"], 2),
                notes=f"Session {number}: even coverage, client comfortable.",
                next_time_notes="Add density at the crown; keep the hairline soft."
                if number < planned
                else "Review at touch-up.",
            )
        )
    ConsentRecord.objects.bulk_create(consents, batch_size=1000)
    Assessment.objects.bulk_create(assessments, batch_size=1000)
    SessionNote.objects.bulk_create(notes, batch_size=1000)
    _stock(notes, today=today, rng=rng)


# Demo stock: Shade 2, Shade 3 and two needles. Each location had an older lot of each (in use
# until it expired a month ago) and has a current one. The older Shade 2 lot went to every
# location and has been recalled, so the recall search (admin, Batches) finds clients at all three.
STOCK_PIGMENTS = ("Shade 2", "Shade 3")
STOCK_NEEDLES = ("1RL 0.18 mm", "3RL 0.25 mm")
RECALLED_LOT = "DP2-2401"


def _stock(notes: list[SessionNote], *, today: date, rng: random.Random) -> None:
    """Products and batches at each location, and the batches each session note used."""
    products = {
        shade: Product.objects.get_or_create(kind=Product.Kind.PIGMENT, brand="Demo Pigments", shade=shade)[0]
        for shade in STOCK_PIGMENTS
    } | {
        size: Product.objects.get_or_create(kind=Product.Kind.NEEDLE, brand="Demo Needles", shade=size)[0]
        for size in STOCK_NEEDLES
    }
    old_expiry = today - timedelta(days=30)
    batches: dict[tuple[int, str, bool], Batch] = {}
    for location in Location.objects.order_by("pk"):
        for n, (name, product) in enumerate(products.items()):
            code = f"D{n + 1}"
            old = RECALLED_LOT if name == "Shade 2" else f"{code}-2401-{location.slug[:3].upper()}"
            batches[location.pk, name, False] = Batch(
                product=product,
                location=location,
                lot_number=old,
                received_on=today - timedelta(days=400),
                opened_on=today - timedelta(days=200),
                expires_on=old_expiry,
                supplier="Demo Supplies Ltd",
            )
            batches[location.pk, name, True] = Batch(
                product=product,
                location=location,
                lot_number=f"{code}-2610-{location.slug[:3].upper()}",
                received_on=today - timedelta(days=60),
                opened_on=today - timedelta(days=25),
                expires_on=today + timedelta(days=365),
                supplier="Demo Supplies Ltd",
            )
    Batch.objects.bulk_create(batches.values())
    Batch.objects.filter(lot_number=RECALLED_LOT).update(
        recalled_at=timezone.now() - timedelta(days=5),
        recall_reason="Supplier's recall notice (demo): sterility not assured for this lot.",
    )
    uses = []
    for note in notes:
        appointment = note.appointment
        current = local_date(appointment.start, appointment.location) > old_expiry
        shade2, shade3 = (batches[appointment.location_id, name, current] for name in STOCK_PIGMENTS)
        share = rng.choice([60, 70, 80])
        needle = batches[appointment.location_id, rng.choice(STOCK_NEEDLES), current]
        uses += [
            SessionBatch(session_note=note, batch=shade2, share_percent=share),
            SessionBatch(session_note=note, batch=shade3, share_percent=100 - share),
            SessionBatch(session_note=note, batch=needle),
        ]
    SessionBatch.objects.bulk_create(uses, batch_size=1000)


PHOTO_CLIENTS = 4


def _photos(appointments: list[Appointment], courses: list[Course], *, wordings) -> None:
    """Before and after photos (seen from above) for the latest finished courses: the same
    generated scalp, the second with the pigment's dots. The first two may be shown publicly."""
    sessions: dict[int, list[Appointment]] = {}
    for appointment in appointments:
        if appointment.kind == SESSION and appointment.status == Status.COMPLETED:
            sessions.setdefault(appointment.course_id, []).append(appointment)
    finished = [c for c in courses if c.status == Course.Status.COMPLETED and len(sessions.get(c.pk, [])) >= 2]
    finished.sort(key=lambda c: c.completed_at, reverse=True)
    for index, course in enumerate(finished[:PHOTO_CLIENTS]):
        done = sorted(sessions[course.pk], key=lambda a: a.start)
        pair = scalp_pair(SEED + course.client_id)
        marketing = index < 2
        if marketing:
            ConsentRecord.objects.create(
                client=course.client,
                wording=wordings[ConsentWording.Kind.MARKETING_PHOTOS],
                given_at=done[0].start,
                method=ConsentRecord.Method.TABLET,
                signed_name=course.client.full_name,
                witnessed_by=done[0].technician.user,
            )
        for phase, image, visit, taken in (
            (Photo.Phase.BEFORE, pair.before, done[0], done[0].start),
            (Photo.Phase.AFTER, pair.after, done[-1], done[-1].end),
        ):
            clean = photo_clean(data=jpeg(image))
            photo = Photo(
                client=course.client,
                appointment=visit,
                angle=Photo.Angle.TOP,
                phase=phase,
                taken_at=taken,
                uploaded_by=visit.technician.user,
                marketing_consent=marketing,
            )
            photo.image.save("photo.jpg", clean.image, save=False)
            photo.thumbnail.save("thumb.jpg", clean.thumbnail, save=False)
            photo.save()
