from django.urls import path

from bookings import views_messages

app_name = "client_messages"

urlpatterns = [
    path("unsubscribe/<str:token>/", views_messages.unsubscribe, name="unsubscribe"),
]
