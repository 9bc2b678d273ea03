from django.urls import path

from . import views, views_intake

app_name = "bookings"

urlpatterns = [
    path("api/availability/", views.api_availability, name="api_availability"),
    path("book/", views.book, name="book"),
    path("book/booked/<str:token>/", views.booked, name="booked"),
    path("booking/<str:token>/", views.manage, name="manage"),
    path("book/confirm/<str:token>/", views.identity_confirm, name="identity_confirm"),
    path("intake/<str:token>/", views_intake.intake, name="intake"),
]
