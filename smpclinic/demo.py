"""The demo clinic: three locations, four technicians, the catalogue, thirty clients.

Everything is keyed on natural keys and created with get_or_create, so seeding twice
changes nothing. Dates are relative to the day of the first seeding.
"""

from __future__ import annotations

import base64
import io
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import holidays
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from PIL import Image, ImageDraw

from bookings.models import (
    Appointment,
    Break,
    Closure,
    Course,
    Location,
    OpeningHours,
    Technician,
    WorkingHours,
)
from clients.models import Assessment, Client, ConsentRecord, ConsentWording, Photo, SessionNote
from clients.roles import roles_ensure
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
]

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


def _scalp_image(rng: random.Random, *, density: float, size=(480, 360)) -> bytes:
    """A made-up scalp: skin tone, a head outline and pigment dots (more after treatment)."""
    skin = rng.choice([(233, 196, 170), (198, 145, 110), (141, 94, 62), (96, 62, 40)])
    img = Image.new("RGB", size, (235, 235, 235))
    draw = ImageDraw.Draw(img)
    draw.ellipse((60, 30, size[0] - 60, size[1] + 120), fill=skin)
    dots = int(2500 * density)
    for _ in range(dots):
        x = rng.randint(80, size[0] - 80)
        y = rng.randint(50, size[1] - 10)
        shade = rng.randint(25, 60)
        draw.point((x, y), fill=(shade, shade, shade))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=80)
    return out.getvalue()


def _thumb(data: bytes) -> bytes:
    img = Image.open(io.BytesIO(data))
    img.thumbnail((240, 240))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=75)
    return out.getvalue()


class _Calendar:
    """Hands out non-overlapping half-day blocks per technician, so the demo never double-books."""

    AM = (time(9, 30), time(12, 30))
    PM = (time(14, 0), time(17, 0))

    def __init__(self, closed: set[date]):
        self.closed = closed
        self.taken: set[tuple[int, date, int]] = set()

    def take(
        self, tech: Technician, days: dict[int, Location], near: date, minutes: int, direction: int = 1
    ) -> tuple[datetime, datetime, Location]:
        day = near
        for _ in range(120):
            if day.weekday() in days and day not in self.closed:
                for block, (start, _end) in enumerate((self.AM, self.PM)):
                    key = (tech.pk, day, block)
                    if key not in self.taken:
                        self.taken.add(key)
                        begin = _aware(day, start)
                        return begin, begin + timedelta(minutes=minutes), days[day.weekday()]
            day += timedelta(days=direction)
        raise RuntimeError("demo calendar is full")


def seed_demo(*, today: date | None = None) -> SeedReport:
    report = SeedReport()
    today = today or timezone.localdate()
    with transaction.atomic():
        if (
            Location.objects.filter(slug="manchester").exists()
            and Client.objects.filter(email="demo.client01@example.com").exists()
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
        manager.set_password(settings.DEMO_STAFF_PASSWORD)
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
                defaults={"price_from": Decimal(low), "price_to": Decimal(high)},
            )
            report.count(created)
    for slug, prices in MANCHESTER_PRICES.items():
        for band, (low, high) in prices.items():
            _, created = PriceGuide.objects.get_or_create(
                treatment=treatments[slug],
                location=locations["manchester"],
                band=band,
                defaults={"price_from": Decimal(low), "price_to": Decimal(high)},
            )
            report.count(created)

    for username, name, schedule in TECHNICIANS:
        first, last = name.split(" ", 1)
        user, created = User.objects.get_or_create(
            username=username,
            defaults={"first_name": first, "last_name": last, "email": f"{username}@smpclinic.example"},
        )
        if created:
            user.set_password(settings.DEMO_STAFF_PASSWORD)
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

    year = timezone.localdate().year
    for year_ in (year, year + 1):
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


def _seed_people(report: SeedReport, today: date) -> None:
    rng = random.Random(SEED)
    techs = list(Technician.objects.select_related("user").order_by("user__username"))
    hours = {}
    for wh in WorkingHours.objects.select_related("location"):
        hours.setdefault(wh.technician_id, {})[wh.weekday] = wh.location
    closed = set(Closure.objects.filter(location=None).values_list("start_date", flat=True))
    calendar = _Calendar(closed)
    wordings = {w.kind: w for w in ConsentWording.objects.all()}
    treatments = {t.slug: t for t in Treatment.objects.all()}

    for i in range(30):
        first = FIRST_NAMES[i]
        female = i >= 20
        client, created = Client.objects.get_or_create(
            email=f"demo.client{i + 1:02d}@example.com",
            defaults={
                "first_name": first,
                "last_name": LAST_NAMES[i],
                "phone": f"07700 900{i + 100:03d}",
                "date_of_birth": date(1965 + (i * 7) % 35, 1 + i % 12, 1 + (i * 3) % 27),
                "preferred_channel": Client.Channel.SMS if i % 5 == 0 else Client.Channel.EMAIL,
                "marketing_email_opt_in": i % 3 == 0,
            },
        )
        report.count(created)
        tech = techs[i % len(techs)]
        days = hours[tech.pk]

        if female:
            treatment = treatments["density"]
            stage = rng.choice(["L1", "L2", "L3"])
            loss = Assessment.HairLossType.FEMALE_PATTERN
        elif i % 7 == 3:
            treatment, stage, loss = treatments["scar-camouflage"], "", Assessment.HairLossType.TRANSPLANT_SCAR
        elif i % 7 == 5:
            treatment, stage, loss = treatments["alopecia"], "", Assessment.HairLossType.ALOPECIA_AREATA
        else:
            treatment = treatments["hairline-design"]
            stage = rng.choice(["N2", "N3", "N4", "N5", "N6", "N7"])
            loss = Assessment.HairLossType.MALE_PATTERN

        upcoming_only = i % 6 == 5
        # The first client of each technician is mid-course with session 2 on the day of seeding
        # (or the technician's next working day), so the workspace has something to open.
        session_two_today = i < len(techs)
        if upcoming_only:
            near = today + timedelta(days=rng.randint(2, 20))
        elif session_two_today:
            near = today - timedelta(days=45)
        else:
            near = today - timedelta(days=rng.randint(25, 120))
        start, end, location = calendar.take(tech, days, near, 45)
        consultation = Appointment.objects.create(
            kind=Appointment.Kind.CONSULTATION,
            client=client,
            technician=tech,
            location=location,
            treatment=treatment,
            start=start,
            end=end,
            channel=Appointment.Channel.ONLINE,
            client_message="I'd like to talk about my options.",
            **_status_for(start, today),
        )
        report.count(True)
        for kind in (ConsentWording.Kind.HEALTH_DATA,):
            ConsentRecord.objects.create(
                client=client,
                wording=wordings[kind],
                given_at=consultation.created_at,
                method=ConsentRecord.Method.ONLINE,
                signed_name=client.full_name,
            )
        if upcoming_only:
            continue

        Assessment.objects.create(
            client=client,
            appointment=consultation,
            assessed_by=tech.user,
            assessed_at=start,
            hair_loss_type=loss,
            stage=stage,
            skin_type=rng.choice(list(Assessment.SkinType.values)),
            skin_tone=rng.choice(list(Assessment.SkinTone.values)),
            natural_hair_colour=rng.choice(["Dark brown", "Black", "Mid brown", "Light brown"]),
            pigment_match=rng.choice(["Shade 2", "Shade 2/3 blend", "Shade 3", "Shade 1/2 blend"]),
            hairline_design_notes="Soft, slightly irregular front; temples kept natural."
            if stage.startswith("N")
            else "",
            contraindications="Takes blood thinners: expect more bleeding." if i % 9 == 2 else "",
            allergies="Allergic to lidocaine: no numbing cream." if i % 8 == 4 else "",
            suitability=Assessment.Suitability.SUITABLE,
        )
        for kind in (ConsentWording.Kind.TREATMENT, ConsentWording.Kind.CLINICAL_PHOTOS):
            ConsentRecord.objects.create(
                client=client,
                wording=wordings[kind],
                given_at=start,
                method=ConsentRecord.Method.TABLET,
                signed_name=client.full_name,
                witnessed_by=tech.user,
            )
        marketing = i % 3 == 1
        if marketing:
            ConsentRecord.objects.create(
                client=client,
                wording=wordings[ConsentWording.Kind.MARKETING_PHOTOS],
                given_at=start,
                method=ConsentRecord.Method.TABLET,
                signed_name=client.full_name,
                witnessed_by=tech.user,
            )

        planned = rng.choice([2, 3]) if treatment.sessions_max > 1 else 1
        course = Course.objects.create(
            client=client,
            treatment=treatment,
            planned_sessions=planned,
            price_band=stage or "small",
            price_agreed=Decimal(rng.choice([450, 1200, 1600, 2200, 2800])),
            status=Course.Status.IN_PROGRESS,
        )
        session_day = start.astimezone(LONDON).date() + timedelta(days=rng.randint(14, 28))
        completed_all = True
        for number in range(1, planned + 1):
            minutes = rng.choice([150, 180])
            s_start, s_end, s_location = calendar.take(tech, days, session_day, minutes)
            session = Appointment.objects.create(
                kind=Appointment.Kind.TREATMENT_SESSION,
                client=client,
                technician=tech,
                location=s_location,
                treatment=treatment,
                course=course,
                session_number=number,
                start=s_start,
                end=s_end,
                channel=Appointment.Channel.STAFF,
                **_status_for(s_start, today),
            )
            if session.status == Appointment.Status.COMPLETED:
                SessionNote.objects.create(
                    appointment=session,
                    author=tech.user,
                    areas=["hairline", "front"] if stage.startswith("N") else ["crown", "mid"],
                    pigment_brand="Demo Pigments",
                    pigment_shade=rng.choice(["2", "3"]),
                    pigment_blend="70% shade 2, 30% shade 3",
                    needle="1RL 0.18 mm",
                    depth=rng.choice(["shallow", "standard"]),
                    machine_settings="8.5 V, 110 Hz",
                    duration_minutes=minutes,
                    numbing_used="EMLA 5%" if i % 8 != 4 else "",
                    reactions=rng.sample(["redness", "swelling", "scabs", "itching"], 2),
                    notes=f"Session {number}: even coverage, client comfortable.",
                    next_time_notes="Add density at the crown; keep the hairline soft."
                    if number < planned
                    else "Review at touch-up.",
                )
                if number == 1 or number == planned:
                    phase = Photo.Phase.BEFORE if number == 1 else Photo.Phase.AFTER
                    for angle in (Photo.Angle.FRONT, Photo.Angle.TOP):
                        data = _scalp_image(rng, density=0.2 if phase == "before" else 1.0)
                        photo = Photo(
                            client=client,
                            appointment=session,
                            angle=angle,
                            phase=phase,
                            taken_at=s_start,
                            uploaded_by=tech.user,
                            marketing_consent=marketing,
                        )
                        photo.image.save("scalp.jpg", ContentFile(data), save=False)
                        photo.thumbnail.save("scalp.jpg", ContentFile(_thumb(data)), save=False)
                        photo.save()
            else:
                completed_all = False
            session_day = s_start.astimezone(LONDON).date() + timedelta(days=rng.randint(14, 21))
            if session_two_today and number == 1:
                session_day = today
        if completed_all:
            course.status = Course.Status.COMPLETED
            course.completed_at = timezone.now()
            course.save(update_fields=["status", "completed_at"])


def _status_for(start: datetime, today: date) -> dict:
    if start.astimezone(LONDON).date() < today:
        return {"status": Appointment.Status.COMPLETED, "completed_at": start + timedelta(hours=3)}
    return {"status": Appointment.Status.BOOKED}
