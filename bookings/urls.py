from django.urls import path

from . import views

app_name = "bookings"

urlpatterns = [
    path("api/availability/", views.api_availability, name="api_availability"),
    path("book/", views.book, name="book"),
    path("book/booked/<str:token>/", views.booked, name="booked"),
    path("book/waitlist/", views.waitlist_join, name="waitlist_join"),
    path("book/waitlist/joined/", views.waitlist_joined, name="waitlist_joined"),
    path("book/waitlist/offer/<str:token>/", views.waitlist_claim, name="waitlist_claim"),
    path("booking/<str:token>/", views.manage, name="manage"),
    path("book/confirm/<str:token>/", views.identity_confirm, name="identity_confirm"),
]
