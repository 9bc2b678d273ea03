from django.urls import path

from . import views

app_name = "treatments"

urlpatterns = [
    path("", views.home, name="home"),
    path("treatments/", views.treatment_list, name="list"),
    path("treatments/<slug:slug>/", views.treatment_detail, name="detail"),
    path("aftercare/", views.aftercare, name="aftercare"),
    path("results/", views.results, name="results"),
    path("results/photo/<int:pk>/<str:size>/", views.results_photo, name="results_photo"),
    path("locations/", views.locations, name="locations"),
    path("privacy/", views.privacy, name="privacy"),
]
