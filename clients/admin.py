"""Client records in the admin. Model permissions decide who sees each model (Reception has none
on clinical ones); clinical inlines are hidden from anyone without view_clinical, and every change
made here leaves an audit event like a change made through the services."""

from django import forms
from django.contrib import admin
from django.contrib.admin.views.main import ORDER_VAR, SEARCH_VAR
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db.models import Q
from django.db.models.functions import Upper
from django.urls import reverse
from django.utils.html import format_html

from clients.phones import phone_display, phone_search_value

from . import access
from .admin_paging import BigTableAdminMixin, SharedChoicesFormSet
from .models import (
    Assessment,
    AuditEvent,
    Client,
    ConsentRecord,
    ConsentWording,
    Intake,
    IntakeQuestion,
    PatchTest,
    Photo,
    SessionNote,
)
from .services import (
    assessment_delete,
    assessment_save,
    audit_record,
    client_delete,
    client_id_check_record,
    client_save,
    consent_give,
    consent_withdraw,
    patch_test_record,
    photo_delete,
    photo_update,
    session_note_save,
)
from .widgets import QuickSelectAdminMixin


class _ServiceErrorForm:
    """Mixed into an admin form to show a service's refusal on the field it concerns."""

    service_errors: list[tuple[str | None, str]] = []

    def clean(self):
        cleaned = super().clean()
        for field, message in self.service_errors:
            self.add_error(field if field in self.fields else None, message)
        return cleaned


class ServiceAdminMixin:
    """The admin as one more caller of the services (save_model, save_formset and the actions
    call them). A refusal undoes the whole save (changeform_view's transaction) and the page is
    shown again with the staff member's input and the reason on the field it concerns."""

    refusals: tuple[type[Exception], ...] = (ValidationError, PermissionDenied)
    # A service error's code -> the form field it is about.
    error_code_fields: dict[str, str] = {}

    def refusal_messages(self, exc: Exception) -> list[tuple[str | None, str]]:
        if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
            return [
                (None if field == NON_FIELD_ERRORS else field, message)
                for field, messages in exc.message_dict.items()
                for message in messages
            ]
        if isinstance(exc, ValidationError):
            field = self.error_code_fields.get(getattr(exc, "code", None) or "")
            return [(field, message) for message in exc.messages]
        return [(None, getattr(exc, "message", None) or str(exc) or "You may not make this change.")]

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except self.refusals as exc:
            if request.method != "POST" or getattr(request, "_service_refusal", None):
                raise
            request._service_refusal = self.refusal_messages(exc)
        # Again with the refusal as a form error: the form is invalid now, so nothing is written.
        return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        refusal = getattr(request, "_service_refusal", None)
        if not refusal:
            return form
        return type(form)(form.__name__, (_ServiceErrorForm, form), {"service_errors": refusal})

    @staticmethod
    def adopt(obj, saved) -> None:
        """Make the admin's object the row the service saved (the admin logs and redirects to it)."""
        obj.pk = saved.pk
        obj._state.adding = False
        obj.refresh_from_db()


class AuditedAdminMixin:
    """Admin saves and deletes write the audit trail (field names only, never the values)."""

    def _client_id(self, obj):
        if isinstance(obj, Client):
            return obj.pk
        if isinstance(obj, SessionNote):
            return obj.appointment.client_id
        return getattr(obj, "client_id", None)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change or form.changed_data:
            audit_record(
                actor=request.user,
                action=AuditEvent.Action.UPDATE if change else AuditEvent.Action.CREATE,
                object_type=obj._meta.model_name,
                object_id=obj.pk,
                client_id=self._client_id(obj),
                fields=form.changed_data,
                detail="admin",
            )

    def save_formset(self, request, form, formset, change):
        super().save_formset(request, form, formset, change)
        changes = [
            *((AuditEvent.Action.CREATE, obj, ()) for obj in formset.new_objects),
            *((AuditEvent.Action.UPDATE, obj, fields) for obj, fields in formset.changed_objects),
            *((AuditEvent.Action.DELETE, obj, ()) for obj in formset.deleted_objects),
        ]
        for action, obj, fields in changes:
            audit_record(
                actor=request.user,
                action=action,
                object_type=obj._meta.model_name,
                object_id=obj.pk,
                client_id=self._client_id(obj),
                fields=fields,
                detail="admin",
            )

    def delete_model(self, request, obj):
        client_id, pk = self._client_id(obj), obj.pk
        super().delete_model(request, obj)
        audit_record(
            actor=request.user,
            action=AuditEvent.Action.DELETE,
            object_type=obj._meta.model_name,
            object_id=pk,
            client_id=client_id,
            detail="admin",
        )

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


class ClinicalAdminMixin(AuditedAdminMixin):
    """Clinical models: the model permission and view_clinical are both needed."""

    def has_view_permission(self, request, obj=None):
        return access.can_view_clinical(request.user) and super().has_view_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return access.can_view_clinical(request.user) and super().has_change_permission(request, obj)

    def has_add_permission(self, request, *args):
        return access.can_view_clinical(request.user) and super().has_add_permission(request, *args)

    def has_delete_permission(self, request, obj=None):
        return access.can_view_clinical(request.user) and super().has_delete_permission(request, obj)

    def has_module_permission(self, request):
        return access.can_view_clinical(request.user) and super().has_module_permission(request)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        obj = getattr(response, "context_data", {}).get("original") if response.status_code == 200 else None
        if obj is not None and request.method == "GET":
            audit_record(
                actor=request.user,
                action=AuditEvent.Action.VIEW,
                object_type=obj._meta.model_name,
                object_id=obj.pk,
                client_id=self._client_id(obj),
                detail="admin",
            )
        return response


class AssessmentInline(QuickSelectAdminMixin, ClinicalAdminMixin, admin.StackedInline):
    model = Assessment
    formset = SharedChoicesFormSet
    extra = 0
    fk_name = "client"
    # Shown, not picked here: an autocomplete per row costs a query per row, and a consultation's
    # assessment is written against its appointment from the workspace.
    readonly_fields = ["appointment"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("appointment")


class ConsentRecordInlineForm(forms.ModelForm):
    """A consent is evidence: a given one is never edited, only withdrawn (with a note)."""

    withdraw = forms.BooleanField(required=False, help_text="Record the client's withdrawal of this consent.")

    class Meta:
        model = ConsentRecord
        fields = ["wording", "given_at", "method", "signed_name", "witnessed_by", "withdrawal_note"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is None:
            for name in ("withdraw", "withdrawal_note"):
                self.fields[name].disabled = True
            return
        for name in ("wording", "given_at", "method", "signed_name", "witnessed_by"):
            self.fields[name].disabled = True
        if self.instance.withdrawn_at is not None:
            self.fields["withdraw"].disabled = True
            self.fields["withdrawal_note"].disabled = True


class ConsentRecordInline(QuickSelectAdminMixin, admin.TabularInline):
    model = ConsentRecord
    form = ConsentRecordInlineForm
    formset = SharedChoicesFormSet
    extra = 0
    can_delete = False
    fields = [
        "wording",
        "given_at",
        "method",
        "signed_name",
        "witnessed_by",
        "withdrawn_at",
        "withdraw",
        "withdrawal_note",
    ]
    readonly_fields = ["withdrawn_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("wording")


class PhotoThumbnailInline(ClinicalAdminMixin, admin.TabularInline):
    """The client's photos as thumbnails, each through the workspace's permission-checked,
    audited photo URL (photos are private files: nothing serves them directly)."""

    model = Photo
    formset = SharedChoicesFormSet
    display_only = True
    fields = ["thumbnail_image", "angle", "phase", "taken_at", "appointment", "marketing_consent"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("appointment")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="photo")
    def thumbnail_image(self, obj: Photo) -> str:
        if obj.pk is None:
            return "-"
        label = f"{obj.get_phase_display()}, {obj.get_angle_display()}"
        return format_html(
            '<a href="{}"><img src="{}" alt="{}" width="120" loading="lazy"></a>',
            reverse("staff:photo_file", args=[obj.pk, "full"]),
            reverse("staff:photo_file", args=[obj.pk, "thumb"]),
            label,
        )


class PatchTestInline(ClinicalAdminMixin, admin.TabularInline):
    """The client's patch tests, shown; a result is recorded on its own page (Patch tests: add)."""

    model = PatchTest
    fk_name = "client"
    display_only = True
    fields = ["tested_at", "result", "notes", "photo_link", "appointment", "recorded_by"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("appointment", "recorded_by")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="photo")
    def photo_link(self, obj: PatchTest) -> str:
        if obj.photo_id is None:
            return "-"
        return format_html(
            '<a href="{}"><img src="{}" alt="Patch test site" width="120" loading="lazy"></a>',
            reverse("staff:photo_file", args=[obj.photo_id, "full"]),
            reverse("staff:photo_file", args=[obj.photo_id, "thumb"]),
        )


class ClientAdminForm(forms.ModelForm):
    """Staff type phone numbers by hand: the same UK check as the booking form (any spacing,
    +44 or 0), stored in E.164 and shown in national format (clients/phones.py)."""

    # Not a field of the client: saving with a document chosen records the ID check through
    # client_id_check_record (who, when, which document; refused for an under-18).
    record_id_check = forms.ChoiceField(
        label="Record an ID check",
        choices=[("", "---------"), *Client.IdDocument.choices],
        required=False,
        help_text="Choose the photo ID you have seen: the check is recorded with your name and the time "
        "(the date of birth must be filled in). A first session cannot be completed without it.",
    )

    class Meta:
        model = Client
        fields = "__all__"  # noqa: DJ007 - the admin shows every field


# An inline form's fields that are the formset's, not the assessment's.
ASSESSMENT_FORM_ONLY = {"id", "client", "DELETE"}

# A search term longer than this is no name, e-mail, phone or reference: nothing matches.
MAX_SEARCH_LENGTH = 200


@admin.register(Client)
class ClientAdmin(QuickSelectAdminMixin, BigTableAdminMixin, ServiceAdminMixin, AuditedAdminMixin, admin.ModelAdmin):
    form = ClientAdminForm
    list_display = ["__str__", "email", "phone_national", "preferred_channel", "created_at"]
    # A phone number (any spacing) is an exact match on its E.164 form (exact_search); the rest
    # is a "contains" search that PostgreSQL's trigram indexes answer (migration 0007).
    search_fields = ["first_name", "last_name", "email"]
    search_help_text = "Name, e-mail or a whole phone number (any spacing, e.g. 07700 900123)."
    list_filter = [
        "preferred_channel",
        "marketing_email_opt_in",
        "marketing_sms_opt_in",
        "created_at",  # the site's checked date filter (smpclinic.admin_site)
        "match_status",
    ]
    # Matching goes through reception's "online bookings to match" page and its services.
    readonly_fields = [
        "created_at",
        "updated_at",
        "erased_at",
        "match_of",
        "match_status",
        "id_checked_at",
        "id_checked_by",
        "id_document",
    ]
    inlines = [AssessmentInline, ConsentRecordInline, PhotoThumbnailInline, PatchTestInline]

    @admin.display(description="phone", ordering="phone")
    def phone_national(self, obj: Client) -> str:
        return phone_display(obj.phone)

    def exact_search(self, term: str) -> Q | None:
        """The filter for a term that names one thing exactly (a phone number), else None."""
        phone = phone_search_value(term)
        return Q(phone=phone) if phone else None

    def get_ordering(self, request):
        """A searched list in name order without the name index: walking that index for the first
        100 matches reads every name before them (a "Smith" waits for every A-to-R), where the
        trigram indexes find the matches at once and sorting a few thousand is cheap. Upper-case
        order is the order a reader expects; a column clicked (?o=) keeps Django's ordering."""
        if request.GET.get(SEARCH_VAR, "").strip() and ORDER_VAR not in request.GET:
            return [Upper("last_name").asc(), Upper("first_name").asc()]
        return super().get_ordering(request)

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if len(term) > MAX_SEARCH_LENGTH:
            return queryset.none(), False
        exact = self.exact_search(term) if term else None
        if exact is not None:
            return queryset.filter(exact), False
        return super().get_search_results(request, queryset, search_term)

    def save_model(self, request, obj, form, change):
        data = {f: form.cleaned_data[f] for f in (form.changed_data if change else form.cleaned_data)}
        document = data.pop("record_id_check", "")
        saved = client_save(client=obj if change else None, data=data, by=request.user)
        if document:
            saved = client_id_check_record(client=saved, document=document, by=request.user)
        self.adopt(obj, saved)

    def delete_model(self, request, obj):
        client_delete(client=obj, by=request.user)

    def save_formset(self, request, form, formset, change):
        if formset.model is Assessment:
            return self._save_assessments(request, form, formset)
        if formset.model is not ConsentRecord:
            return super().save_formset(request, form, formset, change)
        # Consents are given and withdrawn through the consent services, never saved as rows.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for inline_form in formset.forms:
            if not inline_form.has_changed():
                continue
            data = inline_form.cleaned_data
            if inline_form.instance.pk is None:
                record = consent_give(
                    client=form.instance,
                    wording=data["wording"],
                    given_at=data["given_at"],
                    method=data["method"],
                    signed_name=data.get("signed_name", ""),
                    witnessed_by=data.get("witnessed_by"),
                    by=request.user,
                )
                formset.new_objects.append(record)
            elif data.get("withdraw"):
                record = consent_withdraw(
                    record=inline_form.instance, by=request.user, note=data.get("withdrawal_note", "")
                )
                formset.changed_objects.append((record, ["withdrawn_at"]))
        return None

    def _save_assessments(self, request, form, formset) -> None:
        # The workspace's services, so an assessment saved here is checked and audited the same.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for inline_form in formset.forms:
            instance = inline_form.instance
            if instance.pk is not None and formset.can_delete and inline_form.cleaned_data.get("DELETE"):
                assessment_delete(assessment=instance, by=request.user)
                formset.deleted_objects.append(instance)
                continue
            if not inline_form.has_changed():
                continue
            names = [f for f in inline_form.fields if f not in ASSESSMENT_FORM_ONLY]
            if instance.pk is None:
                # Blank fields keep the service's defaults (assessed by whoever saves it).
                cleaned = inline_form.cleaned_data
                data = {f: cleaned[f] for f in names if cleaned.get(f) not in (None, "")}
                saved = assessment_save(client=form.instance, data=data, by=request.user)
                formset.new_objects.append(saved)
            else:
                changed = [f for f in inline_form.changed_data if f in names]
                data = {f: inline_form.cleaned_data[f] for f in changed}
                saved = assessment_save(assessment=instance, data=data, by=request.user)
                formset.changed_objects.append((saved, changed))

    def get_inlines(self, request, obj):
        inlines = self.inlines
        if not access.can_view_clinical(request.user):
            inlines = [i for i in inlines if not issubclass(i, ClinicalAdminMixin)]
        if obj is None or request.method == "POST":
            # Display-only inlines have nothing to show on a new client and nothing to save.
            inlines = [i for i in inlines if not getattr(i, "display_only", False)]
        return inlines

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        # The assessments and patch-test inlines show clinical notes: that is a view of them.
        if request.method == "GET" and response.status_code == 200 and access.can_view_clinical(request.user):
            original = getattr(response, "context_data", {}).get("original")
            if original is not None:
                audit_record(
                    actor=request.user,
                    action=AuditEvent.Action.VIEW,
                    object_type="client_record",
                    object_id=original.pk,
                    client_id=original.pk,
                    fields=["assessments", "patch_tests"],
                    detail="admin",
                )
        return response


@admin.register(ConsentWording)
class ConsentWordingAdmin(admin.ModelAdmin):
    list_display = ["kind", "version", "effective_from"]
    list_filter = ["kind"]

    def get_readonly_fields(self, request, obj=None):
        # A wording that someone has signed is never edited: add a new version instead.
        if obj is not None and obj.records.exists():
            return ["kind", "version", "text", "effective_from"]
        return []


@admin.register(IntakeQuestion)
class IntakeQuestionAdmin(admin.ModelAdmin):
    """The intake form's medical questions, in the clinic's words. Answers keep the text they
    were asked with, so editing one here never rewrites an earlier client's answer."""

    list_display = ["text", "order", "is_active"]
    list_editable = ["order", "is_active"]
    list_filter = ["is_active"]


@admin.register(Intake)
class IntakeAdmin(ClinicalAdminMixin, admin.ModelAdmin):
    """Read-only: only the client writes their intake, through their link
    (bookings.services.intake.intake_submit)."""

    list_display = ["__str__", "client", "appointment", "completed_at"]
    list_select_related = ["client", "appointment"]
    search_fields = ["appointment__reference"]
    readonly_fields = [
        "client",
        "appointment",
        "completed_at",
        "medical_answers",
        "medications",
        "allergies",
        "previous_treatments",
        "goals",
    ]
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Photo)
class PhotoAdmin(ServiceAdminMixin, ClinicalAdminMixin, admin.ModelAdmin):
    fields = ["client", "appointment", "angle", "phase", "taken_at", "uploaded_by", "marketing_consent", "caption"]
    list_display = ["__str__", "client", "angle", "phase", "taken_at", "marketing_consent"]
    list_filter = ["angle", "phase", "marketing_consent"]
    list_select_related = ["client"]
    search_fields = ["client__last_name"]
    autocomplete_fields = ["appointment"]
    # Files arrive only through the staff upload, which checks and strips them; a photo stays
    # with its client and uploader.
    readonly_fields = ["client", "uploaded_by", "image", "thumbnail", "width", "height"]

    def has_add_permission(self, request):
        return False

    def save_model(self, request, obj, form, change):
        data = {f: form.cleaned_data[f] for f in form.changed_data}
        self.adopt(obj, photo_update(photo=obj, data=data, by=request.user))

    def delete_model(self, request, obj):
        photo_delete(photo=obj, by=request.user)


LEGACY_PIGMENT_FIELDS = ["pigment_brand", "pigment_shade", "pigment_blend", "needle"]


@admin.register(SessionNote)
class SessionNoteAdmin(ServiceAdminMixin, ClinicalAdminMixin, admin.ModelAdmin):
    list_display = ["__str__", "pigment_shade", "needle", "depth", "created_at"]
    list_select_related = ["appointment"]
    search_fields = ["appointment__reference"]
    autocomplete_fields = ["appointment"]
    exclude = ["author"]
    error_code_fields = {"consultation_has_assessment": "appointment"}

    def get_readonly_fields(self, request, obj=None):
        # A note belongs to its session: it is not moved to another one. The free-text pigment
        # fields are kept as they were written: pigments and needles are the batches now.
        return ["appointment", *LEGACY_PIGMENT_FIELDS] if obj is not None else [*LEGACY_PIGMENT_FIELDS]

    def save_model(self, request, obj, form, change):
        data = {f: v for f, v in form.cleaned_data.items() if f != "appointment"}
        self.adopt(obj, session_note_save(appointment=obj.appointment, data=data, by=request.user))


@admin.register(AuditEvent)
class AuditEventAdmin(BigTableAdminMixin, admin.ModelAdmin):
    """Read-only: the trail is written by the services, never edited."""

    list_display = ["at", "actor", "action", "object_type", "object_id", "client_id_ref", "detail"]
    list_filter = ["action", "object_type"]
    list_select_related = ["actor"]
    search_fields = ["object_id", "=client_id_ref", "actor__username"]
    date_hierarchy = "at"

    def has_view_permission(self, request, obj=None):
        return access.is_manager(request.user)

    def has_module_permission(self, request):
        return access.is_manager(request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class PatchTestAdminForm(forms.ModelForm):
    photo_file = forms.FileField(required=False, label="Photo of the test site")
    photo_angle = forms.ChoiceField(choices=Photo.Angle.choices, initial=Photo.Angle.BACK, label="Where on the head")

    class Meta:
        model = PatchTest
        fields = ["client", "appointment", "tested_at", "result", "notes"]


@admin.register(PatchTest)
class PatchTestAdmin(ServiceAdminMixin, ClinicalAdminMixin, admin.ModelAdmin):
    """A result is recorded through patch_test_record (audited, the photo through the photo
    pipeline) and never edited afterwards: a new test gets a new row."""

    form = PatchTestAdminForm
    list_display = ["__str__", "client", "result", "tested_at", "recorded_by"]
    list_filter = ["result"]
    list_select_related = ["client", "recorded_by"]
    search_fields = ["client__last_name", "client__email"]
    autocomplete_fields = ["client", "appointment"]
    error_code_fields = {"patch_test_appointment": "appointment", "patch_test_future": "tested_at"}

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["client", "appointment", "tested_at", "result", "notes", "photo", "recorded_by", "created_at"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["client", "appointment", "tested_at", "result", "notes", "photo_file", "photo_angle"]
        return self.get_readonly_fields(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if change:
            return
        data = form.cleaned_data
        saved = patch_test_record(
            client=data["client"],
            appointment=data.get("appointment"),
            tested_at=data["tested_at"],
            result=data["result"],
            notes=data.get("notes", ""),
            photo=data.get("photo_file"),
            photo_angle=data.get("photo_angle") or Photo.Angle.BACK,
            by=request.user,
        )
        self.adopt(obj, saved)
