from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("two-factor/", views.otp_verify, name="otp_verify"),
    path("two-factor/add/", views.otp_enrol, name="otp_enrol"),
    path("password-reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/sent/", views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("password-reset/<uidb64>/<token>/", views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path("password-reset/done/", views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
]
