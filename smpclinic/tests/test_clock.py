"""The test clock: `--clock` parsing and the Celery worker wrapper that follows it."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from conftest import CLOCK_ENV, parse_clock
from smpclinic.tests import clocked_celery

LONDON = ZoneInfo("Europe/London")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2027-03-28", datetime(2027, 3, 28, 12, tzinfo=LONDON)),
        ("2027-03-28T23:30", datetime(2027, 3, 28, 23, 30, tzinfo=LONDON)),
        ("2027-10-31T00:30", datetime(2027, 10, 31, 0, 30, tzinfo=LONDON)),
    ],
)
def test_a_clock_is_a_london_moment_at_noon_unless_a_time_is_given(value, expected):
    moment = parse_clock(value)
    assert moment == expected
    assert moment.utcoffset() == expected.utcoffset()


def test_a_clock_that_is_not_a_date_is_a_usage_error():
    with pytest.raises(pytest.UsageError, match="--clock"):
        parse_clock("next tuesday")


def _python(code: str, **env) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env={**os.environ, **env}, check=True
    )
    return result.stdout.strip()


def test_the_worker_wrapper_travels_to_the_clock_it_is_given():
    assert clocked_celery.CLOCK_ENV == CLOCK_ENV
    moment = datetime(2027, 12, 31, 23, 30, tzinfo=UTC)
    code = (
        "from smpclinic.tests.clocked_celery import travel_from_env; travel_from_env();"
        "from datetime import UTC, datetime; print(datetime.now(UTC).isoformat())"
    )
    worker_now = datetime.fromisoformat(_python(code, **{CLOCK_ENV: moment.isoformat()}))
    assert 0 <= (worker_now - moment).total_seconds() < 60  # ticking from the moment given
    # Without a clock (a plain `pytest` run) the worker keeps the machine's own clock.
    untravelled = datetime.fromisoformat(_python(code, **{CLOCK_ENV: ""}))
    if time_machine.escape_hatch.is_travelling():
        real_now = time_machine.escape_hatch.datetime.datetime.now(UTC)
    else:
        real_now = datetime.now(UTC)
    assert abs((untravelled - real_now).total_seconds()) < 60


def test_the_worker_wrapper_runs_celerys_own_command_line():
    result = subprocess.run(
        [sys.executable, "-m", "smpclinic.tests.clocked_celery", "--version"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, CLOCK_ENV: "2027-12-31T23:30:00+00:00"},
        check=True,
    )
    import celery

    assert result.stdout.strip().startswith(celery.__version__)
