from django.contrib import admin

from .models import Assessment, Client, ConsentRecord, ConsentWording, Photo, SessionNote


class AssessmentInline(admin.StackedInline):
    model = Assessment
    extra = 0
    fk_name = "client"
    autocomplete_fields = ["appointment"]


class ConsentRecordInline(admin.TabularInline):
    model = ConsentRecord
    extra = 0
    fields = ["wording", "given_at", "method", "signed_name", "witnessed_by", "withdrawn_at"]


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = ["__str__", "email", "phone", "preferred_channel", "created_at"]
    search_fields = ["first_name", "last_name", "email", "phone"]
    list_filter = ["preferred_channel", "marketing_email_opt_in"]
    readonly_fields = ["created_at", "updated_at", "erased_at"]
    inlines = [AssessmentInline, ConsentRecordInline]


@admin.register(ConsentWording)
class ConsentWordingAdmin(admin.ModelAdmin):
    list_display = ["kind", "version", "effective_from"]
    list_filter = ["kind"]


@admin.register(Photo)
class PhotoAdmin(admin.ModelAdmin):
    list_display = ["__str__", "client", "angle", "phase", "taken_at", "marketing_consent"]
    list_filter = ["angle", "phase", "marketing_consent"]
    list_select_related = ["client"]
    search_fields = ["client__last_name"]
    autocomplete_fields = ["client", "appointment"]
    readonly_fields = ["width", "height"]


@admin.register(SessionNote)
class SessionNoteAdmin(admin.ModelAdmin):
    list_display = ["__str__", "pigment_shade", "needle", "depth", "created_at"]
    list_select_related = ["appointment"]
    search_fields = ["appointment__reference"]
    autocomplete_fields = ["appointment"]
