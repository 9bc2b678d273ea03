"""Staff logins: lockout after repeated failures (django-axes), idle sessions ending, the second
factor (django-otp TOTP) and password reset by e-mail."""
