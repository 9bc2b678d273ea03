from django.urls import path

from . import views, views_intake, views_record
from . import views_payments as payment_views

app_name = "bookings"

urlpatterns = [
    path("api/availability/", views.api_availability, name="api_availability"),
    # Booking forms may go on to the payment provider's checkout (a deposit).
    path("book/", payment_views.checkout_form_allowed(views.book), name="book"),
    path("book/session/", payment_views.checkout_form_allowed(views.book_session), name="book_session"),
    path("payments/webhook/stripe/", payment_views.stripe_webhook, name="stripe_webhook"),
    path("book/booked/<str:token>/", views.booked, name="booked"),
    path("book/waitlist/", views.waitlist_join, name="waitlist_join"),
    path("book/waitlist/joined/", views.waitlist_joined, name="waitlist_joined"),
    path("book/waitlist/offer/<str:token>/", views.waitlist_claim, name="waitlist_claim"),
    path("booking/<str:token>/", views.manage, name="manage"),
    path("book/confirm/<str:token>/", views.identity_confirm, name="identity_confirm"),
    path("booking/record/<str:token>/", views_record.session_record, name="session_record"),
    path("intake/<str:token>/", views_intake.intake, name="intake"),
]
