"""Readiness checks for /healthz: can we reach the database and the Celery broker?"""

from __future__ import annotations

import logging

from django.db import DatabaseError, connections

from .celery import app as celery_app

logger = logging.getLogger(__name__)


def database_status() -> str:
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        logger.warning("healthz: database unreachable (%s)", type(exc).__name__)
        return "down"
    return "ok"


def broker_status(*, timeout: float = 2.0) -> str:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - kombu raises transport-specific errors
        logger.warning("healthz: broker unreachable (%s)", type(exc).__name__)
        return "down"
    return "ok"
