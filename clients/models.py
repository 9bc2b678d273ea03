"""Client records: health data. Who may read them is decided per role (see docs/)."""

from __future__ import annotations

import uuid
from pathlib import PurePath

from django.conf import settings
from django.core.files.storage import storages
from django.core.signals import setting_changed
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.dispatch import receiver
from django.utils import timezone
from django.utils.functional import LazyObject, empty

from treatments.models import HairLossStage

from .phones import UKPhoneNumberField


class _PrivateStorage(LazyObject):
    """storages["private"], looked up again whenever STORAGES changes.

    A FileField evaluates its storage callable once, at import: without this indirection the
    photo fields would keep the first storage for good, and a test (or check) that switches
    STORAGES, from the local disk to the object store say, would still write to the old one.
    """

    def _setup(self):
        self._wrapped = storages["private"]


_private_storage = _PrivateStorage()


@receiver(setting_changed)
def _private_storage_reset(*, setting: str, **kwargs) -> None:
    if setting == "STORAGES":
        _private_storage._wrapped = empty


def private_storage():
    return _private_storage


def photo_upload_to(instance: Photo, filename: str) -> str:
    # Random names: nothing about the client or the original file leaks into paths.
    return f"photos/{uuid.uuid4().hex}{PurePath(filename).suffix.lower()}"


def thumbnail_upload_to(instance: Photo, filename: str) -> str:
    return f"thumbs/{uuid.uuid4().hex}{PurePath(filename).suffix.lower()}"


class Client(models.Model):
    class Channel(models.TextChoices):
        EMAIL = "email", "E-mail"
        SMS = "sms", "Text message (SMS)"

    class IdDocument(models.TextChoices):
        PASSPORT = "passport", "Passport"
        DRIVING_LICENCE = "driving_licence", "Photocard driving licence"
        PASS_CARD = "pass_card", "PASS proof-of-age card"
        OTHER = "other", "Other photo ID"

    class MatchStatus(models.TextChoices):
        PENDING = "pending", "To match: the same person or not?"
        SEPARATE = "separate", "A different person sharing the e-mail"

    first_name = models.CharField(max_length=80)
    last_name = models.CharField(max_length=80)
    email = models.EmailField(blank=True)
    phone = UKPhoneNumberField(max_length=20, blank=True, help_text="UK number, e.g. 07700 900123.")
    date_of_birth = models.DateField(null=True, blank=True)
    address = models.TextField(blank=True)
    postcode = models.CharField(max_length=10, blank=True)
    preferred_channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    reminders_opt_in = models.BooleanField(
        "appointment reminders and follow-ups",
        default=True,
        help_text="48-hour reminders, next-session prompts and touch-up recalls. Essential aftercare "
        "(days 4, 7 and 10) is always sent while the client has a record.",
    )
    marketing_email_opt_in = models.BooleanField("marketing by e-mail", default=False)
    marketing_sms_opt_in = models.BooleanField("marketing by SMS", default=False)
    staff_notes = models.TextField(blank=True, help_text="Administrative notes (not clinical).")
    # Tattooing under-18s is an offence (Tattooing of Minors Act 1969): the consultation records
    # that photo ID was seen (clients.services.client_id_check_record); a first session cannot
    # be completed without it.
    id_checked_at = models.DateTimeField("ID checked at", null=True, blank=True, editable=False)
    id_checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        verbose_name="ID checked by",
    )
    id_document = models.CharField(
        "ID document seen", max_length=20, choices=IdDocument.choices, blank=True, editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    erased_at = models.DateTimeField(
        null=True, blank=True, help_text="Set when the client's personal data was erased (UK GDPR)."
    )
    # An online booking under an e-mail another client holds gets a record of its own, flagged
    # here: knowing someone's address must never reach their record (see docs/booking.md).
    match_of = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="possible_matches",
        help_text="Booked online under this client's e-mail: merge the two or mark them as different people.",
    )
    match_status = models.CharField(max_length=10, choices=MatchStatus.choices, blank=True)

    class Meta:
        ordering = ["last_name", "first_name"]
        # Searches: a phone number is an exact lookup on its E.164 form. Names and e-mails are
        # searched by trigram GIN indexes that migration 0007 creates on PostgreSQL only.
        # The lists' order (and the staff search's keyset) is (last_name, first_name, id): a page
        # is a short walk of this index, not a sort of every client.
        indexes = [
            models.Index(fields=["phone"], name="client_phone_idx"),
            models.Index(fields=["last_name", "first_name", "id"], name="client_name_order_idx"),
            # Every record under an address, possible matches included (the online form's
            # attendance check): the unique index on lower(email) leaves the matches out.
            models.Index(Lower("email"), name="client_email_lower_idx", condition=~Q(email="")),
        ]
        permissions = [
            ("view_clinical", "Can view clinical records (assessments, session notes, photos)"),
            ("export_client", "Can export a client's complete record (UK GDPR)"),
            ("erase_client", "Can erase a client's personal data (UK GDPR)"),
        ]
        constraints = [
            # One client holds each e-mail; the others booked under it wait to be matched to it.
            models.UniqueConstraint(
                Lower("email"),
                condition=~Q(email="") & Q(match_of__isnull=True),
                name="client_email_unique_ci",
                violation_error_message="A client with this e-mail address already exists.",
                violation_error_code="client_email_unique_ci",
            ),
            models.CheckConstraint(
                condition=(Q(match_of__isnull=True) & Q(match_status=""))
                | (Q(match_of__isnull=False) & ~Q(match_status="")),
                name="client_match_has_status",
                violation_error_message="A possible match needs a status, and a status needs the client it may match.",
                violation_error_code="client_match_has_status",
            ),
            models.CheckConstraint(
                condition=~Q(match_of=F("pk")),
                name="client_match_not_self",
                violation_error_message="A client cannot be a possible match of itself.",
                violation_error_code="client_match_not_self",
            ),
        ]

    def __str__(self) -> str:
        if self.erased_at:
            return f"Erased client #{self.pk}"
        return f"{self.first_name} {self.last_name}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class Assessment(models.Model):
    """The consultation's findings: what the next sessions are planned on."""

    class HairLossType(models.TextChoices):
        MALE_PATTERN = "male_pattern", "Male pattern hair loss"
        FEMALE_PATTERN = "female_pattern", "Female pattern thinning"
        ALOPECIA_AREATA = "areata", "Alopecia areata (patches)"
        ALOPECIA_TOTALIS = "totalis", "Alopecia totalis / universalis"
        SCARRING_ALOPECIA = "scarring", "Scarring alopecia"
        TRACTION_ALOPECIA = "traction", "Traction alopecia"
        CHEMOTHERAPY = "chemo", "After chemotherapy or medication"
        TRANSPLANT_SCAR = "transplant_scar", "Hair-transplant scar (FUT/FUE)"
        OTHER_SCAR = "scar", "Accident or surgery scar, birthmark"
        OTHER = "other", "Other"

    class SkinType(models.TextChoices):
        NORMAL = "normal", "Normal"
        OILY = "oily", "Oily (fades faster)"
        DRY = "dry", "Dry"
        COMBINATION = "combination", "Combination"
        SENSITIVE = "sensitive", "Sensitive"

    class SkinTone(models.TextChoices):
        TYPE_1 = "I", "Fitzpatrick I"
        TYPE_2 = "II", "Fitzpatrick II"
        TYPE_3 = "III", "Fitzpatrick III"
        TYPE_4 = "IV", "Fitzpatrick IV"
        TYPE_5 = "V", "Fitzpatrick V"
        TYPE_6 = "VI", "Fitzpatrick VI"

    class Suitability(models.TextChoices):
        PENDING = "pending", "Not yet decided"
        SUITABLE = "suitable", "Suitable"
        WITH_CAUTION = "caution", "Suitable with caution"
        NOT_SUITABLE = "not_suitable", "Not suitable"

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="assessments")
    appointment = models.ForeignKey(
        "bookings.Appointment", on_delete=models.SET_NULL, null=True, blank=True, related_name="assessments"
    )
    assessed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    assessed_at = models.DateTimeField()
    hair_loss_type = models.CharField(max_length=30, choices=HairLossType.choices)
    stage = models.CharField("Norwood/Ludwig stage", max_length=4, choices=HairLossStage.choices, blank=True)
    skin_type = models.CharField(max_length=20, choices=SkinType.choices, blank=True)
    skin_tone = models.CharField(max_length=4, choices=SkinTone.choices, blank=True)
    natural_hair_colour = models.CharField(max_length=80, blank=True)
    pigment_match = models.CharField(max_length=120, blank=True)
    hairline_design_notes = models.TextField(blank=True)
    medical_history = models.TextField(blank=True)
    contraindications = models.TextField(blank=True)
    allergies = models.TextField(blank=True)
    suitability = models.CharField(max_length=20, choices=Suitability.choices, default=Suitability.PENDING)
    suitability_notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-assessed_at"]
        get_latest_by = "assessed_at"

    def __str__(self) -> str:
        return f"Assessment #{self.pk} ({timezone.localtime(self.assessed_at):%d/%m/%Y})"

    @property
    def has_warnings(self) -> bool:
        return bool(self.contraindications.strip() or self.allergies.strip())


class ConsentWording(models.Model):
    """One version of the text a client consents to. Versions are never edited once used."""

    class Kind(models.TextChoices):
        TREATMENT = "treatment", "Treatment"
        HEALTH_DATA = "health_data", "Keeping health data"
        CLINICAL_PHOTOS = "clinical_photos", "Clinical photos"
        MARKETING_PHOTOS = "marketing_photos", "Photos in marketing (results page)"
        MARKETING_MESSAGES = "marketing_messages", "Marketing messages"

    kind = models.CharField(max_length=30, choices=Kind.choices)
    version = models.PositiveSmallIntegerField()
    text = models.TextField()
    effective_from = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "version"], name="consentwording_unique_version"),
            models.CheckConstraint(condition=Q(version__gte=1), name="consentwording_version_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} v{self.version}"


class ConsentRecord(models.Model):
    class Method(models.TextChoices):
        ONLINE = "online", "Online form"
        TABLET = "tablet", "Signed on the clinic tablet"
        PAPER = "paper", "Paper form"

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="consents")
    wording = models.ForeignKey(ConsentWording, on_delete=models.PROTECT, related_name="records")
    given_at = models.DateTimeField()
    method = models.CharField(max_length=10, choices=Method.choices)
    signed_name = models.CharField(max_length=160, blank=True)
    witnessed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawal_note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-given_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(withdrawn_at__isnull=True) | Q(withdrawn_at__gte=F("given_at")),
                name="consentrecord_withdrawn_after_given",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.wording} given {timezone.localtime(self.given_at):%d/%m/%Y}"

    @property
    def is_active(self) -> bool:
        return self.withdrawn_at is None


class Photo(models.Model):
    class Angle(models.TextChoices):
        FRONT = "front", "Front"
        HAIRLINE = "hairline", "Hairline"
        TOP = "top", "Top"
        CROWN = "crown", "Crown"
        LEFT = "left", "Left side"
        RIGHT = "right", "Right side"
        BACK = "back", "Back"
        # A client's own photo from the intake form: they are not asked to name the angle.
        CLIENT_OWN = "client", "Client's own photo"

    class Phase(models.TextChoices):
        BEFORE = "before", "Before"
        AFTER = "after", "After"
        PATCH_TEST = "patch_test", "Patch test"
        # Taken by the client on their phone before the consultation (the intake form); private,
        # never on the results page.
        INTAKE = "intake", "Intake (before the consultation)"

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="photos")
    appointment = models.ForeignKey(
        "bookings.Appointment", on_delete=models.SET_NULL, null=True, blank=True, related_name="photos"
    )
    image = models.ImageField(
        storage=private_storage, upload_to=photo_upload_to, width_field="width", height_field="height"
    )
    thumbnail = models.ImageField(storage=private_storage, upload_to=thumbnail_upload_to, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True, editable=False)
    height = models.PositiveIntegerField(null=True, blank=True, editable=False)
    angle = models.CharField(max_length=10, choices=Angle.choices)
    phase = models.CharField(max_length=10, choices=Phase.choices)
    taken_at = models.DateTimeField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    marketing_consent = models.BooleanField(
        "may appear on the results page",
        default=False,
        help_text="Only with the client's active written consent to marketing use of photos.",
    )
    caption = models.CharField(max_length=160, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-taken_at"]

    def __str__(self) -> str:
        return f"Photo #{self.pk} {self.get_angle_display()} {self.get_phase_display()}"


class IntakeQuestion(models.Model):
    """One medical-history question of the online intake form, in the clinic's own words.

    Staff edit the list in the admin. A client's answer keeps the question's text as it was asked,
    so editing or retiring a question never changes what an earlier client answered.
    """

    text = models.CharField(max_length=300)
    help_text = models.CharField(max_length=300, blank=True, help_text="Shown under the question, optional.")
    order = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField("asked", default=True, help_text="Untick to stop asking it.")

    class Meta:
        ordering = ["order", "pk"]

    def __str__(self) -> str:
        return self.text


class Intake(models.Model):
    """What the client told the clinic before their consultation, on the online intake form."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="intakes")
    appointment = models.OneToOneField("bookings.Appointment", on_delete=models.CASCADE, related_name="intake")
    # [{"question": text as asked, "answer": "yes" | "no", "details": "..."}]
    medical_answers = models.JSONField("medical history answers", default=list, blank=True)
    medications = models.TextField("current medications", blank=True)
    allergies = models.TextField(blank=True)
    previous_treatments = models.TextField("previous hair treatments", blank=True)
    goals = models.TextField(blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Intake #{self.pk}"

    @property
    def medical_yes(self) -> list[dict]:
        return [a for a in self.medical_answers if a.get("answer") == "yes"]


class SessionNote(models.Model):
    """What the technician did in one treatment session, for the next session and for the record."""

    class Area(models.TextChoices):
        HAIRLINE = "hairline", "Hairline"
        TEMPLES = "temples", "Temples"
        FRONT = "front", "Front"
        MID_SCALP = "mid", "Mid-scalp"
        CROWN = "crown", "Crown"
        SIDES = "sides", "Sides"
        BACK = "back", "Back"
        SCAR = "scar", "Scar"
        PATCH = "patch", "Patch"

    class Depth(models.TextChoices):
        SHALLOW = "shallow", "Shallow"
        STANDARD = "standard", "Standard"
        DEEPER = "deeper", "Deeper"

    class Reaction(models.TextChoices):
        REDNESS = "redness", "Redness"
        SWELLING = "swelling", "Mild swelling"
        SCABS = "scabs", "Small scabs"
        ITCHING = "itching", "Itching"
        BRUISING = "bruising", "Bruising"
        LYMPH_NODES = "lymph_nodes", "Swollen lymph nodes (back of head)"
        INFECTION = "infection", "Signs of infection"
        ALLERGIC = "allergic", "Allergic reaction to pigment"

    appointment = models.OneToOneField("bookings.Appointment", on_delete=models.CASCADE, related_name="session_note")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    areas = models.JSONField("areas treated", default=list, blank=True)
    pigment_brand = models.CharField(max_length=80, blank=True)
    pigment_shade = models.CharField(max_length=80, blank=True)
    pigment_blend = models.CharField(max_length=160, blank=True, help_text="E.g. 70% shade 2, 30% shade 3.")
    needle = models.CharField(max_length=80, blank=True, help_text="E.g. 1RL 0.18 mm.")
    depth = models.CharField(max_length=10, choices=Depth.choices, blank=True)
    machine_settings = models.CharField(max_length=120, blank=True)
    duration_minutes = models.PositiveSmallIntegerField(null=True, blank=True)
    numbing_used = models.CharField(max_length=80, blank=True)
    reactions = models.JSONField("reactions seen", default=list, blank=True)
    notes = models.TextField(blank=True)
    next_time_notes = models.TextField("notes for next time", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Session note for {self.appointment.reference}"


class PatchTest(models.Model):
    """A patch test's result: a little pigment on the skin, read a day or two later. A treatment that
    needs one (or a client with allergies on record) cannot have a first session booked until a clear
    result is recorded long enough before it, nor a session after an allergic reaction until a clear
    one is recorded since (bookings.services.safety)."""

    class Result(models.TextChoices):
        CLEAR = "clear", "Clear (no reaction)"
        REACTION = "reaction", "Reaction"

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="patch_tests")
    appointment = models.ForeignKey(
        "bookings.Appointment", on_delete=models.SET_NULL, null=True, blank=True, related_name="patch_tests"
    )
    tested_at = models.DateTimeField("pigment applied at")
    result = models.CharField(max_length=10, choices=Result.choices)
    notes = models.TextField(blank=True)
    photo = models.OneToOneField(
        Photo, on_delete=models.SET_NULL, null=True, blank=True, related_name="patch_test", editable=False
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, editable=False, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-tested_at", "-pk"]
        get_latest_by = "tested_at"
        indexes = [models.Index(fields=["client", "tested_at"], name="patchtest_client_tested_idx")]

    def __str__(self) -> str:
        return f"Patch test {timezone.localtime(self.tested_at):%d/%m/%Y}: {self.get_result_display()}"

    @property
    def is_clear(self) -> bool:
        return self.result == self.Result.CLEAR


class AuditEvent(models.Model):
    """Who changed or looked at which part of a client record, and when.

    Written by the services (and the admin) that make the change; holds field names,
    never the health text itself, so the trail is not a second copy of the record.
    """

    class Action(models.TextChoices):
        CREATE = "create", "Created"
        UPDATE = "update", "Changed"
        DELETE = "delete", "Deleted"
        VIEW = "view", "Viewed"
        WITHDRAW = "withdraw", "Consent withdrawn"
        EXPORT = "export", "Exported (UK GDPR)"
        ERASE = "erase", "Erased (UK GDPR)"
        MERGE = "merge", "Merged (same person)"

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=10, choices=Action.choices)
    # Plain ids rather than foreign keys: the trail outlives deleted photos and erased clients.
    client_id_ref = models.BigIntegerField("client id", null=True, blank=True, db_index=True)
    object_type = models.CharField(max_length=40)
    object_id = models.CharField(max_length=40, blank=True)
    fields = models.JSONField("fields changed or viewed", default=list, blank=True)
    detail = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.object_type} #{self.object_id}"
