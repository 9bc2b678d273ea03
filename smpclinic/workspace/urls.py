from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

app_name = "staff"

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="staff/login.html", redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.schedule, name="schedule"),
    path("appointments/<int:pk>/", views.appointment_detail, name="appointment"),
    path("appointments/<int:pk>/assessment/", views.assessment_edit, name="assessment"),
    path("appointments/<int:pk>/note/", views.session_note_edit, name="session_note"),
    path("appointments/<int:pk>/photos/", views.photo_upload, name="photo_upload"),
    path("appointments/<int:pk>/complete/", views.appointment_complete, name="complete"),
    path("appointments/<int:pk>/patch-test/", views.patch_test_record, name="patch_test"),
    path("appointments/<int:pk>/id-check/", views.id_check, name="id_check"),
    path("appointments/<int:pk>/next/", views.next_session, name="next_session"),
    path("appointments/<int:pk>/course/", views.course_plan, name="course_plan"),
    path("photos/<int:pk>/<slug:variant>/", views.photo_file, name="photo_file"),
    path("clients/", views.client_list, name="clients"),
    path("clients/<int:client_id>/", views.client_detail, name="client"),
    path("clients/<int:client_id>/compare/", views.photo_compare, name="compare"),
    path("clients/<int:client_id>/consents/", views.consent_sign, name="consents"),
    path("clients/<int:client_id>/consents/<int:record_id>/withdraw/", views.consent_withdraw, name="consent_withdraw"),
    path("clients/<int:client_id>/export/", views.client_export, name="export"),
    path("clients/<int:client_id>/erase/", views.client_erase, name="erase"),
]
