"""E-mail through a provider's API (django-anymail) chosen by DJANGO_EMAIL_PROVIDER, SMTP by
EMAIL_URL, files on a laptop; bad choices stop the process at start-up."""

from __future__ import annotations

from smpclinic.tests.test_settings import PRODUCTION, run_manage

SHOW_MAILER = (
    "from django.core.mail import mailers; m = mailers.default; "
    "print('mailer', type(m).__module__, getattr(m, 'server_token', None) or getattr(m, 'api_key', None), "
    "getattr(m, 'api_url', None))"
)


def mailer_line(result) -> str:
    assert result.returncode == 0, result.stderr
    return next(line for line in result.stdout.splitlines() if line.startswith("mailer "))


def test_a_provider_sends_through_its_api_with_the_key(tmp_path):
    env = {**PRODUCTION, "EMAIL_URL": "", "DJANGO_EMAIL_PROVIDER": "Postmark", "ANYMAIL_API_KEY": "pm-token"}
    line = mailer_line(run_manage("shell", "--no-imports", "-c", SHOW_MAILER, env=env, tmp_path=tmp_path))
    assert line.startswith("mailer anymail.backends.postmark pm-token")


def test_a_provider_wins_over_smtp_and_can_change_region(tmp_path):
    env = {
        **PRODUCTION,
        "DJANGO_EMAIL_PROVIDER": "mailgun",
        "ANYMAIL_API_KEY": "mg-key",
        "ANYMAIL_API_URL": "https://api.eu.mailgun.net/v3/",
    }
    line = mailer_line(run_manage("shell", "--no-imports", "-c", SHOW_MAILER, env=env, tmp_path=tmp_path))
    assert line == "mailer anymail.backends.mailgun mg-key https://api.eu.mailgun.net/v3/"


def test_smtp_stays_when_no_provider_is_chosen(tmp_path):
    line = mailer_line(run_manage("shell", "--no-imports", "-c", SHOW_MAILER, env=PRODUCTION, tmp_path=tmp_path))
    assert line.startswith("mailer django.core.mail.backends.smtp")


def test_an_unknown_provider_or_a_missing_key_stops_start_up(tmp_path):
    unknown = run_manage("check", env={"DJANGO_EMAIL_PROVIDER": "pigeon"}, tmp_path=tmp_path)
    assert unknown.returncode != 0
    assert "DJANGO_EMAIL_PROVIDER='pigeon' is not a provider" in unknown.stderr
    keyless = run_manage("check", env={"DJANGO_EMAIL_PROVIDER": "brevo"}, tmp_path=tmp_path)
    assert keyless.returncode != 0
    assert "ANYMAIL_API_KEY must be set for DJANGO_EMAIL_PROVIDER=brevo" in keyless.stderr
