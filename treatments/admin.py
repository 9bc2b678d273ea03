from django import forms
from django.contrib import admin

from .models import AftercareMilestone, Page, PageSection, PriceGuide, Treatment
from .money import PoundsField, format_minor


class PriceGuideForm(forms.ModelForm):
    """Staff type pounds ("1,250.00" or "1250"); the guide stores integers of pence."""

    price_from_minor = PoundsField(min_minor=0, label="Price from (£)")
    price_to_minor = PoundsField(required=False, min_minor=0, label="Price to (£)")

    class Meta:
        model = PriceGuide
        fields = ["treatment", "location", "band", "price_from_minor", "price_to_minor", "note"]


class PriceGuideInline(admin.TabularInline):
    model = PriceGuide
    form = PriceGuideForm
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("treatment", "location")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "location":
            # Listed once for every row (the rows' copies share the list): a handful of clinics,
            # where an autocomplete would fetch each row's chosen clinic with a query of its own.
            field.choices = list(field.choices)
        return field


@admin.register(Treatment)
class TreatmentAdmin(admin.ModelAdmin):
    list_display = ["name", "category", "sessions_min", "sessions_max", "is_active", "order"]
    list_editable = ["is_active", "order"]
    list_filter = ["category", "is_active"]
    search_fields = ["name", "summary"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [PriceGuideInline]
    fieldsets = [
        (None, {"fields": ["name", "slug", "category", "is_active", "order"]}),
        ("On the site", {"fields": ["summary", "who_for", "description", "aftercare_brief", "meta_description"]}),
        (
            "Course",
            {
                "fields": [
                    ("sessions_min", "sessions_max"),
                    ("spacing_days_min", "spacing_days_max"),
                    ("session_minutes_min", "session_minutes_max"),
                    "touch_up_percent",
                ]
            },
        ),
        ("Safety", {"fields": ["needs_patch_test", "patch_test_hours"]}),
    ]


@admin.register(PriceGuide)
class PriceGuideAdmin(admin.ModelAdmin):
    form = PriceGuideForm
    list_display = ["treatment", "band", "location", "price_from", "price_to"]
    list_filter = ["treatment", "location", "band"]
    list_select_related = ["treatment", "location"]

    @admin.display(description="price from", ordering="price_from_minor")
    def price_from(self, obj: PriceGuide) -> str:
        return format_minor(obj.price_from_minor, obj.currency)

    @admin.display(description="price to", ordering="price_to_minor")
    def price_to(self, obj: PriceGuide) -> str:
        return format_minor(obj.price_to_minor, obj.currency) or "-"


@admin.register(AftercareMilestone)
class AftercareMilestoneAdmin(admin.ModelAdmin):
    list_display = ["label", "title", "anchor", "order"]
    list_editable = ["order"]
    search_fields = ["label", "title", "body"]

    def get_readonly_fields(self, request, obj=None):
        # Aftercare messages already sent link to /aftercare/#<anchor>: a saved anchor stays put.
        return ["anchor"] if obj is not None else []


class PageSectionInline(admin.StackedInline):
    model = PageSection
    extra = 0
    fields = ["heading", "body", "order"]


@admin.register(Page)
class PageAdmin(admin.ModelAdmin):
    list_display = ["__str__", "title", "updated_at"]
    fields = ["key", "title", "meta_description", "intro"]
    inlines = [PageSectionInline]

    def get_readonly_fields(self, request, obj=None):
        return ["key"] if obj is not None else []
