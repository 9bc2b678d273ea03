"""Client records in the admin. Model permissions decide who sees each model (Reception has none
on clinical ones); clinical inlines are hidden from anyone without view_clinical, and every change
made here leaves an audit event like a change made through the services."""

from django import forms
from django.contrib import admin
from django.db import transaction

from clients.phones import normalise_uk_phone

from . import access, selectors
from .models import Assessment, AuditEvent, Client, ConsentRecord, ConsentWording, Photo, SessionNote
from .services import audit_record


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


class AssessmentInline(ClinicalAdminMixin, admin.StackedInline):
    model = Assessment
    extra = 0
    fk_name = "client"
    autocomplete_fields = ["appointment"]


class ConsentRecordInline(admin.TabularInline):
    model = ConsentRecord
    extra = 0
    fields = ["wording", "given_at", "method", "signed_name", "witnessed_by", "withdrawn_at"]


class ClientAdminForm(forms.ModelForm):
    """Staff type phone numbers by hand: the same UK check and format as the booking form."""

    class Meta:
        model = Client
        fields = "__all__"  # noqa: DJ007 - the admin shows every field

    def clean_phone(self) -> str:
        phone = self.cleaned_data.get("phone", "")
        return normalise_uk_phone(phone) if phone else ""


@admin.register(Client)
class ClientAdmin(AuditedAdminMixin, admin.ModelAdmin):
    form = ClientAdminForm
    list_display = ["__str__", "email", "phone", "preferred_channel", "created_at"]
    search_fields = ["first_name", "last_name", "email", "phone"]
    list_filter = ["match_status", "preferred_channel", "marketing_email_opt_in"]
    # Matching goes through reception's "online bookings to match" page and its services.
    readonly_fields = ["created_at", "updated_at", "erased_at", "match_of", "match_status"]
    inlines = [AssessmentInline, ConsentRecordInline]

    def get_inlines(self, request, obj):
        if access.can_view_clinical(request.user):
            return self.inlines
        return [i for i in self.inlines if not issubclass(i, ClinicalAdminMixin)]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        # The assessments inline shows clinical notes: that is a view of them.
        if request.method == "GET" and response.status_code == 200 and access.can_view_clinical(request.user):
            original = getattr(response, "context_data", {}).get("original")
            if original is not None:
                audit_record(
                    actor=request.user,
                    action=AuditEvent.Action.VIEW,
                    object_type="client_record",
                    object_id=original.pk,
                    client_id=original.pk,
                    fields=["assessments"],
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


class PhotoAdminForm(forms.ModelForm):
    class Meta:
        model = Photo
        fields = ["client", "appointment", "angle", "phase", "taken_at", "uploaded_by", "marketing_consent", "caption"]

    def clean_marketing_consent(self):
        allowed = self.cleaned_data["marketing_consent"]
        client = self.cleaned_data.get("client") or getattr(self.instance, "client", None)
        if (
            allowed
            and client
            and not selectors.consent_is_active(client_id=client.pk, kind=ConsentWording.Kind.MARKETING_PHOTOS)
        ):
            raise forms.ValidationError(
                "The client has no active consent to marketing use of photos: record it on the consent page first."
            )
        return allowed


@admin.register(Photo)
class PhotoAdmin(ClinicalAdminMixin, admin.ModelAdmin):
    form = PhotoAdminForm
    list_display = ["__str__", "client", "angle", "phase", "taken_at", "marketing_consent"]
    list_filter = ["angle", "phase", "marketing_consent"]
    list_select_related = ["client"]
    search_fields = ["client__last_name"]
    autocomplete_fields = ["client", "appointment"]
    # Files arrive only through the staff upload, which checks and strips them.
    readonly_fields = ["image", "thumbnail", "width", "height"]

    def has_add_permission(self, request):
        return False

    def delete_model(self, request, obj):
        files = [f for f in (obj.image, obj.thumbnail) if f]
        super().delete_model(request, obj)
        # The file is the health data: it goes with the row (once the deletion is committed),
        # as on erasure, rather than staying in private storage with nothing pointing at it.
        transaction.on_commit(lambda: [f.storage.delete(f.name) for f in files])


@admin.register(SessionNote)
class SessionNoteAdmin(ClinicalAdminMixin, admin.ModelAdmin):
    list_display = ["__str__", "pigment_shade", "needle", "depth", "created_at"]
    list_select_related = ["appointment"]
    search_fields = ["appointment__reference"]
    autocomplete_fields = ["appointment"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
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
