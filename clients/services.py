"""Every write to a client record, each one leaving an audit event (who, what, when)."""

from __future__ import annotations

import json
import logging
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.forms.models import model_to_dict
from django.utils import timezone
from phonenumber_field.phonenumber import PhoneNumber

from .ages import under_age_message
from .models import Assessment, AuditEvent, Client, ConsentRecord, ConsentWording, PatchTest, Photo, SessionNote
from .photos import MAX_UPLOAD_BYTES, photo_clean
from .selectors import consent_is_active

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    # A bookings.Appointment, typed as the Model it is: records sit below bookings, never import it.
    from django.db.models import Model as Appointment
    from django.db.models.fields.files import FieldFile

logger = logging.getLogger(__name__)

# Never copied into the audit trail or the logs; only the field names are.
AUDIT_SKIP = {"id", "created_at", "updated_at"}


def audit_event(
    *,
    actor: AbstractBaseUser | None,
    action: str,
    object_type: str,
    object_id: Any = "",
    client_id: int | None,
    fields: Iterable[str] = (),
    detail: str = "",
) -> AuditEvent:
    """The audit row, unsaved: for audit_records_create, or audit_record's one INSERT."""
    return AuditEvent(
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        object_type=object_type,
        object_id=str(object_id or ""),
        client_id_ref=client_id,
        fields=sorted(fields),
        detail=detail[:200],
    )


def audit_record(
    *,
    actor: AbstractBaseUser | None,
    action: str,
    object_type: str,
    object_id: Any = "",
    client_id: int | None,
    fields: Iterable[str] = (),
    detail: str = "",
) -> AuditEvent:
    event = audit_event(
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        client_id=client_id,
        fields=fields,
        detail=detail,
    )
    event.save(force_insert=True)
    return event


def audit_records_create(events: Iterable[AuditEvent]) -> list[AuditEvent]:
    """Several audit rows of one change (audit_event's) in one INSERT."""
    return AuditEvent.objects.bulk_create(list(events))


def audit_view(*, actor: AbstractBaseUser, client: Client, what: str, object_id: Any = "", fields=()) -> AuditEvent:
    """Record that someone looked at clinical notes or photos."""
    return audit_record(
        actor=actor,
        action=AuditEvent.Action.VIEW,
        object_type=what,
        object_id=object_id,
        client_id=client.pk,
        fields=fields,
    )


def _changed_fields(before: dict[str, Any] | None, instance: models.Model) -> list[str]:
    after = model_to_dict(instance)
    if before is None:
        return [k for k, v in after.items() if k not in AUDIT_SKIP and v not in (None, "", [], False)]
    return [k for k in after if k not in AUDIT_SKIP and before.get(k) != after.get(k)]


def _save_with_audit(*, instance: models.Model, before: dict | None, by, client_id: int) -> None:
    instance.full_clean()
    instance.save()
    changed = _changed_fields(before, instance)
    if before is None or changed:
        audit_record(
            actor=by,
            action=AuditEvent.Action.CREATE if before is None else AuditEvent.Action.UPDATE,
            object_type=instance._meta.model_name,
            object_id=instance.pk,
            client_id=client_id,
            fields=changed,
        )


@transaction.atomic
def client_save(*, client: Client | None = None, data: dict[str, Any], by: AbstractBaseUser) -> Client:
    """Create a client (``client`` None) or change one: validated, saved and audited by field name."""
    if client is None:
        before, client = None, Client()
    else:
        # Locked: two people saving one client at once must each audit what they changed.
        client = Client.objects.select_for_update().get(pk=client.pk)
        before = model_to_dict(client)
    for field, value in data.items():
        setattr(client, field, value)
    client.full_clean()
    client.save()
    changed = _changed_fields(before, client)
    if before is None or changed:
        audit_record(
            actor=by,
            action=AuditEvent.Action.CREATE if before is None else AuditEvent.Action.UPDATE,
            object_type="client",
            object_id=client.pk,
            client_id=client.pk,
            fields=changed,
        )
    return client


@transaction.atomic
def assessment_save(
    *,
    appointment: Appointment | None = None,
    assessment: Assessment | None = None,
    client: Client | None = None,
    data: dict[str, Any],
    by: AbstractBaseUser,
) -> Assessment:
    """Create or update an assessment: the consultation's (by its appointment, from the
    workspace), one on file (``assessment``) or a new one for ``client`` (the client admin)."""
    if assessment is not None and assessment.pk is not None:
        # Locked: two people saving one assessment at once must each audit what they changed.
        assessment = Assessment.objects.select_for_update().get(pk=assessment.pk)
    elif appointment is not None:
        assessment = Assessment.objects.select_for_update().filter(appointment=appointment).first()
    else:
        assessment = None
    before = model_to_dict(assessment) if assessment else None
    if assessment is None:
        owner = appointment.client if appointment is not None else client
        if owner is None:
            raise ValueError("a new assessment needs its appointment or its client")
        assessment = Assessment(client=owner, appointment=appointment, assessed_by=by, assessed_at=timezone.now())
    for field, value in data.items():
        setattr(assessment, field, value)
    _save_with_audit(instance=assessment, before=before, by=by, client_id=assessment.client_id)
    return assessment


@transaction.atomic
def assessment_delete(*, assessment: Assessment, by: AbstractBaseUser) -> None:
    """Remove an assessment entered in error; the audit trail keeps that it existed."""
    assessment = Assessment.objects.select_for_update().get(pk=assessment.pk)
    pk, client_id = assessment.pk, assessment.client_id
    assessment.delete()
    audit_record(actor=by, action=AuditEvent.Action.DELETE, object_type="assessment", object_id=pk, client_id=client_id)


@transaction.atomic
def session_note_save(*, appointment: Appointment, data: dict[str, Any], by: AbstractBaseUser) -> SessionNote:
    """Create or update the note of one treatment session."""
    if appointment.kind == CONSULTATION:
        raise ValidationError(
            "A consultation has an assessment, not a session note.", code="consultation_has_assessment"
        )
    note = SessionNote.objects.filter(appointment=appointment).first()
    before = model_to_dict(note) if note else None
    if note is None:
        note = SessionNote(appointment=appointment, author=by)
    for field, value in data.items():
        setattr(note, field, value)
    _save_with_audit(instance=note, before=before, by=by, client_id=appointment.client_id)
    return note


@dataclass(frozen=True)
class PhotoUpload:
    file: UploadedFile
    angle: str


def photos_add(
    *,
    client: Client,
    appointment: Appointment | None,
    uploads: Sequence[PhotoUpload],
    phase: str,
    by: AbstractBaseUser,
) -> list[Photo]:
    """Check every upload first, then store them all (all or nothing)."""
    if not uploads:
        raise ValidationError("Choose at least one photo.", code="photos_required")
    angles = {a for a, _ in Photo.Angle.choices}
    if phase not in {p for p, _ in Photo.Phase.choices}:
        raise ValidationError("Choose before or after.", code="photo_phase_invalid")
    errors: list[ValidationError] = []
    cleaned = []
    for index, upload in enumerate(uploads, start=1):
        label = f"Photo {index} ({upload.file.name})"
        if upload.angle not in angles:
            errors.append(f"{label}: choose its angle.")
            continue
        if upload.file.size > MAX_UPLOAD_BYTES:
            errors.append(f"{label}: it is {upload.file.size / 1024 / 1024:.0f} MB; the limit is 15 MB.")
            continue
        try:
            cleaned.append((upload, photo_clean(data=upload.file.read())))
        except ValidationError as exc:
            errors.append(ValidationError(f"{label}: {' '.join(exc.messages)}", code="photo_invalid"))
    if errors:
        raise ValidationError(errors)

    now = timezone.now()
    photos = []
    stored: list[FieldFile] = []
    try:
        with transaction.atomic():
            for upload, clean in cleaned:
                photo = Photo(
                    client=client,
                    appointment=appointment,
                    angle=upload.angle,
                    phase=phase,
                    taken_at=now,
                    uploaded_by=by,
                )
                photo.image.save("photo.jpg", clean.image, save=False)
                stored.append(photo.image)
                photo.thumbnail.save("thumb.jpg", clean.thumbnail, save=False)
                stored.append(photo.thumbnail)
                photo.save()
                audit_record(
                    actor=by,
                    action=AuditEvent.Action.CREATE,
                    object_type="photo",
                    object_id=photo.pk,
                    client_id=client.pk,
                    fields=["image", "angle", "phase"],
                )
                photos.append(photo)
    except BaseException:
        # All or nothing for the files too: a file no row points to is health data nobody can
        # see, export or erase (on object storage, a bucket slowly filling with orphans).
        _delete_files(stored)
        raise
    logger.info(
        "photos stored client=%s appointment=%s count=%s", client.pk, getattr(appointment, "pk", None), len(photos)
    )
    return photos


# Photos that only clinical staff ever see, through the permission-checked photo view.
PRIVATE_PHOTO_PHASES = (Photo.Phase.INTAKE, Photo.Phase.PATCH_TEST)


@transaction.atomic
def photo_update(*, photo: Photo, data: dict[str, Any], by: AbstractBaseUser) -> Photo:
    """Change a photo's details (never its file). Marketing use needs the client's active consent."""
    photo = Photo.objects.select_for_update().get(pk=photo.pk)
    before = model_to_dict(photo)
    for field, value in data.items():
        setattr(photo, field, value)
    # Intake and patch-test photos are private whatever their flags: relabelling one "after"
    # would put it on the results page.
    if photo.phase != before["phase"] and {photo.phase, before["phase"]} & set(PRIVATE_PHOTO_PHASES):
        raise ValidationError(
            {
                "phase": ValidationError(
                    "An intake or patch-test photo keeps its phase, and no photo becomes one.",
                    code="photo_phase_fixed",
                )
            }
        )
    if photo.marketing_consent and photo.phase == Photo.Phase.INTAKE:
        raise ValidationError(
            {
                "marketing_consent": ValidationError(
                    "A client's own intake photo stays private: it cannot appear on the results page.",
                    code="intake_photo_private",
                )
            }
        )
    if photo.marketing_consent and photo.phase == Photo.Phase.PATCH_TEST:
        raise ValidationError(
            {
                "marketing_consent": ValidationError(
                    "A patch-test photo stays private: it cannot appear on the results page.",
                    code="patch_test_photo_private",
                )
            }
        )
    if (
        photo.marketing_consent
        and not before["marketing_consent"]
        and not consent_is_active(client_id=photo.client_id, kind=ConsentWording.Kind.MARKETING_PHOTOS)
    ):
        raise ValidationError(
            {
                "marketing_consent": ValidationError(
                    "The client has no active consent to marketing use of photos: record it on the consent page first.",
                    code="no_marketing_consent",
                )
            }
        )
    _save_with_audit(instance=photo, before=before, by=by, client_id=photo.client_id)
    return photo


@transaction.atomic
def photo_delete(*, photo: Photo, by: AbstractBaseUser) -> None:
    """Delete a photo and, once that is committed, its files: the file is the health data."""
    files = [f for f in (photo.image, photo.thumbnail) if f]
    client_id, pk = photo.client_id, photo.pk
    photo.delete()
    audit_record(actor=by, action=AuditEvent.Action.DELETE, object_type="photo", object_id=pk, client_id=client_id)
    transaction.on_commit(lambda: _delete_files(files))


@transaction.atomic
def client_delete(*, client: Client, by: AbstractBaseUser) -> None:
    """Delete a client's row and, once that is committed, their photos' files (the rows go with
    the client; the files would stay in private storage, health data nobody could see, export
    or erase). Only a client without bookings, courses or payments can go: those protect it."""
    files = [f for photo in client.photos.all() for f in (photo.image, photo.thumbnail) if f]
    pk = client.pk
    client.delete()
    audit_record(actor=by, action=AuditEvent.Action.DELETE, object_type="client", object_id=pk, client_id=pk)
    transaction.on_commit(lambda: _delete_files(files))


# bookings.Appointment.Kind.PATCH_TEST, named for the same reason as CONSULTATION below.
PATCH_TEST_KIND = "patch_test"


def patch_test_record(
    *,
    client: Client,
    result: str,
    tested_at,
    by: AbstractBaseUser,
    notes: str = "",
    appointment: Appointment | None = None,
    photo: UploadedFile | None = None,
    photo_angle: str = Photo.Angle.BACK,
    now=None,
) -> PatchTest:
    """Record a patch test's result (clear or reaction), with notes and an optional photo kept as a
    private "patch test" photo through photos_add; audited. ``tested_at`` is when the pigment went
    on the skin: the wait before a first session counts from it."""
    now = now or timezone.now()
    errors: dict[str, list[ValidationError]] = {}
    if result not in PatchTest.Result.values:
        errors.setdefault("result", []).append(ValidationError("Choose clear or reaction.", code="patch_test_result"))
    if tested_at is None or tested_at > now:
        errors.setdefault("tested_at", []).append(
            ValidationError("A patch test is recorded once the pigment is on the skin.", code="patch_test_future")
        )
    if appointment is not None and (appointment.client_id != client.pk or appointment.kind != PATCH_TEST_KIND):
        errors.setdefault("appointment", []).append(
            ValidationError("Choose one of this client's patch-test appointments.", code="patch_test_appointment")
        )
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        # Locked: a first session being booked right now (bookings.services.safety) waits for this.
        client = Client.objects.select_for_update().get(pk=client.pk)
        record = PatchTest(
            client=client,
            appointment=appointment,
            tested_at=tested_at,
            result=result,
            notes=notes.replace("\x00", ""),
            recorded_by=by,
        )
        record.full_clean()
        record.save()
        if photo is not None:
            (stored,) = photos_add(
                client=client,
                appointment=appointment,
                uploads=[PhotoUpload(file=photo, angle=photo_angle)],
                phase=Photo.Phase.PATCH_TEST,
                by=by,
            )
            record.photo = stored
            record.save(update_fields=["photo"])
        audit_record(
            actor=by,
            action=AuditEvent.Action.CREATE,
            object_type="patchtest",
            object_id=record.pk,
            client_id=client.pk,
            fields=["tested_at", "result", *(["notes"] if record.notes else []), *(["photo"] if photo else [])],
            detail=f"result {result}",
        )
    logger.info("patch test recorded client=%s patchtest=%s result=%s", client.pk, record.pk, result)
    return record


@transaction.atomic
def client_id_check_record(
    *, client: Client, document: str, by: AbstractBaseUser, date_of_birth=None, now=None
) -> Client:
    """Record that staff saw the client's photo ID (which document, who, when), with the date of birth
    it shows when the record has none yet. Refused for someone under 18 on the day. Audited."""
    now = now or timezone.now()
    # Locked: the check and a change of the date of birth must not cross.
    client = Client.objects.select_for_update().get(pk=client.pk)
    if document not in Client.IdDocument.values:
        raise ValidationError({"id_document": ValidationError("Choose the document seen.", code="id_document")})
    born = date_of_birth or client.date_of_birth
    if born is None:
        raise ValidationError(
            {"date_of_birth": ValidationError("Enter the date of birth on the ID.", code="date_of_birth_required")}
        )
    refusal = under_age_message(born=born, day=timezone.localdate(now))
    if refusal:
        raise ValidationError({"date_of_birth": ValidationError(refusal, code="under_18")})
    before = model_to_dict(client)
    client.date_of_birth = born
    client.id_document = document
    client.id_checked_at = now
    client.id_checked_by = by
    client.full_clean()
    client.save(update_fields=["date_of_birth", "id_document", "id_checked_at", "id_checked_by", "updated_at"])
    changed = ["id_checked_at", "id_checked_by", "id_document"]
    if before["date_of_birth"] != born:
        changed.append("date_of_birth")
    audit_record(
        actor=by,
        action=AuditEvent.Action.UPDATE,
        object_type="client",
        object_id=client.pk,
        client_id=client.pk,
        fields=changed,
        detail=f"ID checked: {document}",
    )
    return client


def consent_wordings_current() -> list[ConsentWording]:
    """The newest version in force of each kind of consent."""
    latest: dict[str, ConsentWording] = {}
    for wording in ConsentWording.objects.filter(effective_from__lte=timezone.now()).order_by("kind", "-version"):
        latest.setdefault(wording.kind, wording)
    return list(latest.values())


@transaction.atomic
def consent_sign(
    *, client: Client, wordings: Sequence[ConsentWording], signed_name: str, witness: AbstractBaseUser
) -> list[ConsentRecord]:
    """The client signs on the tablet with a typed name; the staff user is the witness."""
    signed_name = signed_name.strip()
    if len(signed_name) < 2:
        raise ValidationError("Type the client's full name to sign.", code="consent_name_required")
    if not wordings:
        raise ValidationError("Tick at least one consent.", code="consent_required")
    now = timezone.now()
    records = []
    for wording in wordings:
        record = ConsentRecord(
            client=client,
            wording=wording,
            given_at=now,
            method=ConsentRecord.Method.TABLET,
            signed_name=signed_name,
            witnessed_by=witness,
        )
        _consent_record_save(record, by=witness, fields=["wording", "signed_name", "witnessed_by"])
        records.append(record)
    return records


@transaction.atomic
def consent_give(
    *,
    client: Client,
    wording: ConsentWording,
    given_at,
    method: str,
    signed_name: str = "",
    witnessed_by: AbstractBaseUser | None = None,
    by: AbstractBaseUser,
) -> ConsentRecord:
    """Record a consent given on paper or online (entered by staff), audited with its wording."""
    record = ConsentRecord(
        client=client,
        wording=wording,
        given_at=given_at,
        method=method,
        signed_name=signed_name.strip(),
        witnessed_by=witnessed_by,
    )
    fields = [f for f in ("wording", "given_at", "method", "signed_name", "witnessed_by") if getattr(record, f)]
    _consent_record_save(record, by=by, fields=fields)
    return record


def _consent_record_save(record: ConsentRecord, *, by: AbstractBaseUser | None, fields: list[str]) -> None:
    """Validate and store a new consent, with its audit row naming the wording and version."""
    record.full_clean()
    record.save()
    audit_record(
        actor=by,
        action=AuditEvent.Action.CREATE,
        object_type="consentrecord",
        object_id=record.pk,
        client_id=record.client_id,
        fields=fields,
        detail=f"{record.wording.kind} v{record.wording.version}",
    )


@transaction.atomic
def consent_withdraw(*, record: ConsentRecord, by: AbstractBaseUser, note: str = "") -> ConsentRecord:
    """Withdrawal is recorded and takes effect at once (marketing photos leave the results page)."""
    # Lock the row: two withdrawals at once must not both stamp it.
    record = ConsentRecord.objects.select_for_update().select_related("wording").get(pk=record.pk)
    if record.withdrawn_at is not None:
        return record
    record.withdrawn_at = timezone.now()
    # The note comes straight from the request; PostgreSQL refuses NUL characters in text.
    record.withdrawal_note = note.replace("\x00", "")[:200]
    record.full_clean()
    record.save(update_fields=["withdrawn_at", "withdrawal_note"])
    kind = record.wording.kind
    affected = 0
    if kind == ConsentWording.Kind.MARKETING_PHOTOS:
        affected = Photo.objects.filter(client_id=record.client_id, marketing_consent=True).update(
            marketing_consent=False
        )
    elif kind == ConsentWording.Kind.MARKETING_MESSAGES:
        affected = Client.objects.filter(pk=record.client_id).update(
            marketing_email_opt_in=False, marketing_sms_opt_in=False
        )
    audit_record(
        actor=by,
        action=AuditEvent.Action.WITHDRAW,
        object_type="consentrecord",
        object_id=record.pk,
        client_id=record.client_id,
        fields=["withdrawn_at"],
        detail=f"{kind} v{record.wording.version}; {affected} rows updated",
    )
    return record


def _rows(queryset, exclude: Iterable[str] = ()) -> list[dict[str, Any]]:
    return [
        {k: v for k, v in model_to_dict(obj).items() if k not in exclude}
        | {"id": obj.pk, **({"created_at": obj.created_at} if hasattr(obj, "created_at") else {})}
        for obj in queryset
    ]


class RecordEncoder(DjangoJSONEncoder):
    """Phone numbers are written in E.164, as stored."""

    def default(self, o):
        if isinstance(o, PhoneNumber):
            return str(o)
        return super().default(o)


def client_export(*, client: Client, by: AbstractBaseUser, extra: dict[str, Any] | None = None) -> IO[bytes]:
    """The client's complete record as one zip (record.json plus the photos), in a temporary file.

    ``extra``: sections of the record that higher apps hold (bookings adds the pigment record,
    bookings.services.stock.client_export_with_stock), written into record.json as given."""
    record = {
        "exported_at": timezone.now(),
        "client": model_to_dict(client) | {"id": client.pk, "created_at": client.created_at},
        "appointments": _rows(client.appointments.all()),
        "courses": _rows(client.courses.all()),
        "assessments": _rows(client.assessments.all()),
        "patch_tests": _rows(client.patch_tests.all()),
        "session_notes": _rows(SessionNote.objects.filter(appointment__client=client)),
        "intakes": _rows(client.intakes.all()),
        "consents": [
            row | {"wording_kind": r.wording.kind, "wording_version": r.wording.version, "wording_text": r.wording.text}
            for r, row in ((r, _rows([r])[0]) for r in client.consents.select_related("wording"))
        ],
        "photos": [],
        **(extra or {}),
    }
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 - returned to the caller
    with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for photo in client.photos.all():
            arcname = f"photos/{photo.pk}-{photo.angle}-{photo.phase}.jpg"
            record["photos"].append(_rows([photo], exclude={"image", "thumbnail"})[0] | {"file": arcname})
            with photo.image.open("rb") as fh:
                archive.writestr(arcname, fh.read())
        archive.writestr("record.json", json.dumps(record, cls=RecordEncoder, indent=2))
    audit_record(
        actor=by, action=AuditEvent.Action.EXPORT, object_type="client", object_id=client.pk, client_id=client.pk
    )
    logger.info("client exported client=%s photos=%s", client.pk, len(record["photos"]))
    spool.seek(0)
    return spool


ERASED_TEXT = ""
# bookings.Appointment.Kind.CONSULTATION: records sit below bookings, so they name the value.
CONSULTATION = "consultation"


def client_record_erase(*, client: Client, by: AbstractBaseUser) -> tuple[Client, int]:
    """UK GDPR erasure of what clients keep: photos and contact details go; the treatment record that
    must be kept (for complaints and insurance) stays, stripped of free text that could identify the
    client. Returns the client and the number of photos deleted.

    Call inside the transaction of bookings.services.erasure.client_erase, which also scrubs the
    appointments and courses and cancels every pending message: that is the one entry point.
    """
    client = Client.objects.select_for_update().get(pk=client.pk)
    if client.erased_at:
        return client, 0
    files = []
    for photo in client.photos.all():
        files.extend(f for f in (photo.image, photo.thumbnail) if f)
    photo_count = client.photos.all().delete()[0]

    Client.objects.filter(pk=client.pk).update(
        first_name="Erased",
        last_name="client",
        email="",
        phone="",
        date_of_birth=None,
        id_document="",
        address="",
        postcode="",
        staff_notes="",
        reminders_opt_in=False,
        marketing_email_opt_in=False,
        marketing_sms_opt_in=False,
        erased_at=timezone.now(),
    )
    client.assessments.update(
        natural_hair_colour="", hairline_design_notes="", medical_history="", suitability_notes=""
    )
    SessionNote.objects.filter(appointment__client=client).update(notes="", next_time_notes="")
    client.patch_tests.update(notes="")
    client.consents.update(signed_name="")
    client.intakes.update(medications="", allergies="", previous_treatments="", goals="", medical_answers=[])
    audit_record(
        actor=by,
        action=AuditEvent.Action.ERASE,
        object_type="client",
        object_id=client.pk,
        client_id=client.pk,
        detail=f"{photo_count} photos deleted",
    )
    # Files go only once the rows are gone for good.
    transaction.on_commit(lambda: _delete_files(files))
    client.refresh_from_db()
    return client, photo_count


def _delete_files(files) -> None:
    for f in files:
        f.storage.delete(f.name)
