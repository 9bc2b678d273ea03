"""Pigment and needle stock in the admin: products, batches (with the recall mark), the batches
a session note used, and the recall page (every client treated with a lot, CSV, messages).

Every save, delete and action calls bookings.services.stock or bookings.services.recall."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import urlencode

from clients.admin import ServiceAdminMixin, SessionNoteAdmin
from clients.admin_paging import QuickCheckboxAdminMixin, SharedChoicesFormSet
from clients.models import SessionNote

from .forms_stock import RecallMessageForm, RecallSearchForm
from .models_stock import Batch, Product, SessionBatch
from .services.recall import PERMISSION, recall_csv_export, recall_message_send
from .services.stock import (
    BatchUse,
    batch_delete,
    batch_recall,
    batch_recall_withdraw,
    batch_save,
    product_delete,
    product_save,
    session_note_batches_set,
)
from .stock_selectors import batch_choices, lot_key, recall_page

RECALL_PAGE_SIZE = 200


@admin.register(Product)
class ProductAdmin(ServiceAdminMixin, admin.ModelAdmin):
    list_display = ["__str__", "kind", "brand", "shade", "is_active", "is_legacy"]
    list_filter = ["kind", "is_active", "is_legacy"]
    search_fields = ["brand", "shade"]
    readonly_fields = ["is_legacy"]
    error_code_fields = {"product_unique_kind_brand_shade": "shade"}

    def save_model(self, request, obj, form, change):
        data = {f: form.cleaned_data[f] for f in (form.changed_data if change else form.cleaned_data)}
        self.adopt(obj, product_save(product=obj if change else None, data=data, by=request.user))

    def delete_model(self, request, obj):
        product_delete(product=obj, by=request.user)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            product_delete(product=obj, by=request.user)


class RecalledFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("usable", "In date, not recalled"), ("expired", "Expired"), ("recalled", "Recalled")]

    def queryset(self, request, queryset):
        today = timezone.localdate()
        value = self.value()
        if value == "usable":
            return queryset.filter(recalled_at__isnull=True, is_legacy=False, expires_on__gte=today)
        if value == "expired":
            return queryset.filter(expires_on__lt=today)
        if value == "recalled":
            return queryset.filter(recalled_at__isnull=False)
        if value is not None:
            return queryset.none()
        return queryset


class BatchAdminForm(forms.ModelForm):
    recall = forms.BooleanField(
        label="Mark recalled",
        required=False,
        help_text="No session can record it from now on. Then find and message its clients (Recall search).",
    )
    recall_reason_text = forms.CharField(
        label="Recall reason", max_length=200, required=False, help_text="E.g. the supplier's notice and its date."
    )
    withdraw_recall = forms.BooleanField(
        label="Withdraw the recall", required=False, help_text="Only if the recall was marked in error."
    )

    class Meta:
        model = Batch
        fields = ["product", "location", "lot_number", "expires_on", "received_on", "opened_on", "supplier"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        recalled = self.instance.pk is not None and self.instance.recalled_at is not None
        if recalled:
            del self.fields["recall"], self.fields["recall_reason_text"]
        else:
            del self.fields["withdraw_recall"]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("recall") and not (cleaned.get("recall_reason_text") or "").strip():
            self.add_error("recall_reason_text", "Give the recall's reason.")
        return cleaned


@admin.register(Batch)
class BatchAdmin(QuickCheckboxAdminMixin, ServiceAdminMixin, admin.ModelAdmin):
    form = BatchAdminForm
    change_list_template = "admin/bookings/batch/change_list.html"
    list_display = [
        "product",
        "lot_number",
        "location",
        "expires_on",
        "received_on",
        "opened_on",
        "supplier",
        "state",
    ]
    list_select_related = ["product", "location"]
    list_filter = [RecalledFilter, "location", "product__kind", "expires_on", "is_legacy"]
    search_fields = ["lot_number", "product__brand", "product__shade", "supplier"]
    search_help_text = "Lot number, brand, shade or supplier."
    readonly_fields = ["recalled_at", "recall_reason", "recalled_by", "is_legacy"]
    actions = ["recall_search_action"]
    error_code_fields = {
        "batch_unique_lot_per_location": "lot_number",
        "batch_known_lot_has_dates": "expires_on",
        "batch_opened_after_received": "opened_on",
        "batch_used": "lot_number",
    }

    def get_fields(self, request, obj=None):
        fields = [*BatchAdminForm.Meta.fields]
        if obj is not None and obj.recalled_at is not None:
            return [*fields, "recalled_at", "recall_reason", "recalled_by", "withdraw_recall", "is_legacy"]
        return [*fields, "recall", "recall_reason_text", "is_legacy"]

    @admin.display(description="state")
    def state(self, obj: Batch) -> str:
        if obj.recalled_at is not None:
            return "Recalled"
        if obj.is_legacy:
            return "Lot unknown (from free text)"
        if obj.expires_on is not None and obj.expires_on < timezone.localdate():
            return "Expired"
        return "In date"

    def save_model(self, request, obj, form, change):
        names = BatchAdminForm.Meta.fields
        data = {f: form.cleaned_data[f] for f in (form.changed_data if change else names) if f in names}
        saved = batch_save(batch=obj if change else None, data=data, by=request.user)
        if form.cleaned_data.get("recall"):
            saved = batch_recall(batch=saved, reason=form.cleaned_data["recall_reason_text"], by=request.user)
        elif form.cleaned_data.get("withdraw_recall"):
            saved = batch_recall_withdraw(batch=saved, by=request.user)
        self.adopt(obj, saved)

    def delete_model(self, request, obj):
        batch_delete(batch=obj, by=request.user)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            batch_delete(batch=obj, by=request.user)

    def changelist_view(self, request, extra_context=None):
        if request.user.has_perm(PERMISSION):
            extra_context = {**(extra_context or {}), "recall_url": reverse("admin:bookings_batch_recall")}
        return super().changelist_view(request, extra_context)

    @admin.action(description="Find every client treated with the selected lots", permissions=["recall"])
    def recall_search_action(self, request, queryset):
        lots = sorted({lot_key(b.lot_number) for b in queryset if b.lot_number})
        if len(lots) != 1:
            self.message_user(
                request, "Choose batches of one lot number (the search covers every location).", messages.ERROR
            )
            return None
        return HttpResponseRedirect(f"{reverse('admin:bookings_batch_recall')}?{urlencode({'lot': lots[0]})}")

    def has_recall_permission(self, request) -> bool:
        return request.user.has_perm(PERMISSION)

    # The recall pages ---------------------------------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("recall/", view(self.recall_view), name="bookings_batch_recall"),
            path("recall/export/", view(self.recall_export_view), name="bookings_batch_recall_export"),
            path("recall/message/", view(self.recall_message_view), name="bookings_batch_recall_message"),
            *super().get_urls(),
        ]

    def _context(self, request, **extra) -> dict:
        return {**self.admin_site.each_context(request), "opts": self.model._meta, **extra}

    def _require(self, request) -> None:
        if not request.user.has_perm(PERMISSION):
            raise PermissionDenied

    def recall_view(self, request: HttpRequest) -> HttpResponse:
        """Every client treated with a lot, at any location: their sessions and how to reach them."""
        self._require(request)
        form = RecallSearchForm(request.GET if "lot" in request.GET else None)
        result, page = None, None
        if form.is_bound and form.is_valid():
            # A lot shipped chain-wide can reach thousands of clients: the page shows them a
            # page at a time, paged in SQL (only the page's rows are read, as plain values, in
            # the same four queries whatever the lot); the CSV has them all.
            result = recall_page(
                form.cleaned_data["lot"], page_number=request.GET.get("page"), per_page=RECALL_PAGE_SIZE
            )
            page = result.page
            # Two reverse() calls, not one per client and session (each costs a fraction of a ms).
            client_url = reverse("admin:clients_client_change", args=["__pk__"])
            appointment_url = reverse("admin:bookings_appointment_change", args=["__pk__"])
            for entry in result.entries:
                entry["url"] = client_url.replace("__pk__", str(entry["pk"]))
                for session in entry["sessions"]:
                    session["url"] = appointment_url.replace("__pk__", str(session["appointment_id"]))
        context = self._context(
            request, title="Recall: every client treated with a lot", form=form, result=result, page=page
        )
        return TemplateResponse(
            request, "admin/bookings/batch/recall.html", context, status=400 if form.is_bound and form.errors else 200
        )

    def recall_export_view(self, request: HttpRequest) -> HttpResponse:
        self._require(request)
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:bookings_batch_recall"))
        form = RecallSearchForm(request.POST)
        if not form.is_valid():
            context = self._context(request, title="Recall: every client treated with a lot", form=form, result=None)
            return TemplateResponse(request, "admin/bookings/batch/recall.html", context, status=400)
        result, lines = recall_csv_export(lot=form.cleaned_data["lot"], by=request.user)
        response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in result.lot)
        response["Content-Disposition"] = f'attachment; filename="recall_{safe}.csv"'
        response["Cache-Control"] = "private, no-store"
        return response

    def recall_message_view(self, request: HttpRequest) -> HttpResponse:
        """Staff edit the wording, then one message per affected client goes into the outbox."""
        self._require(request)
        if request.method == "POST":
            form = RecallMessageForm(request.POST)
            if form.is_valid():
                lot = form.cleaned_data["lot"]
                try:
                    sent = recall_message_send(
                        lot=lot, subject=form.cleaned_data["subject"], body=form.cleaned_data["body"], by=request.user
                    )
                except ValidationError as exc:
                    for field, errors in getattr(exc, "message_dict", {None: exc.messages}).items():
                        for error in errors:
                            form.add_error(field if field in form.fields and field != "lot" else None, error)
                else:
                    self.message_user(
                        request,
                        f"{sent.queued} messages queued; {sent.already} clients had been told already; "
                        f"{sent.unreachable} have no e-mail or phone (or were erased).",
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(
                        f"{reverse('admin:bookings_batch_recall')}?{urlencode({'lot': lot_key(lot)})}"
                    )
        else:
            search = RecallSearchForm(request.GET)
            if not search.is_valid():
                return HttpResponseRedirect(reverse("admin:bookings_batch_recall"))
            form = RecallMessageForm(initial={"lot": lot_key(search.cleaned_data["lot"])})
        lot = lot_key(form.data.get("lot", "") if form.is_bound else form.initial["lot"])
        result = recall_page(lot[:60], page_number=1, per_page=1) if lot else None  # the counts
        context = self._context(
            request, title=f"Recall: message every client treated with lot {lot}", form=form, result=result, lot=lot
        )
        return TemplateResponse(
            request, "admin/bookings/batch/recall_message.html", context, status=400 if form.is_bound else 200
        )


class SessionBatchInline(admin.TabularInline):
    """The batches the session used. Saved through bookings.services.stock, which refuses a batch
    from another location, expired on the session's day or recalled."""

    model = SessionBatch
    formset = SharedChoicesFormSet
    fields = ["batch", "share_percent"]
    extra = 1
    verbose_name = "batch used"
    verbose_name_plural = "pigment and needle batches used"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("batch__product")

    def get_formset(self, request, obj=None, **kwargs):
        request._stock_note = obj
        return super().get_formset(request, obj, **kwargs)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        note = getattr(request, "_stock_note", None)
        if db_field.name == "batch":
            if note is not None and note.pk is not None:
                kwargs["queryset"] = batch_choices(appointment=note.appointment, note=note)
            else:
                # A new note's location is not known yet: every usable batch, named with its
                # location; the service refuses one from another location than the session's.
                kwargs["queryset"] = Batch.objects.filter(
                    Q(recalled_at__isnull=True) & Q(is_legacy=False) & Q(expires_on__gte=timezone.localdate())
                ).select_related("product", "location")
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "batch":
            with_location = note is None or note.pk is None
            field.label_from_instance = lambda b: f"{b.label()} ({b.location.name})" if with_location else b.label()
        return field


class SessionNoteStockAdmin(SessionNoteAdmin):
    inlines = [*SessionNoteAdmin.inlines, SessionBatchInline]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("appointment__location")

    def save_formset(self, request, form, formset, change):
        if formset.model is not SessionBatch:
            return super().save_formset(request, form, formset, change)
        uses = []
        for inline_form in formset.forms:
            data = getattr(inline_form, "cleaned_data", None) or {}
            if not data or data.get("DELETE") or data.get("batch") is None:
                continue
            uses.append(BatchUse(batch=data["batch"], share_percent=data.get("share_percent")))
        session_note_batches_set(note=form.instance, uses=uses, by=request.user)
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        return None


admin.site.unregister(SessionNote)
admin.site.register(SessionNote, SessionNoteStockAdmin)
