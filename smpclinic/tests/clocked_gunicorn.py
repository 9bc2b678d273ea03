"""`gunicorn`, for the test suite's web server subprocesses, on the run's clock.

As smpclinic.tests.clocked_celery does for workers: when SMP_TEST_CLOCK is set the server
travels there (ticking) before it loads the application; the workers it forks keep the clock.
"""

from __future__ import annotations

import sys

from smpclinic.tests.clocked_celery import travel_from_env


def main() -> None:
    travel_from_env()
    from gunicorn.app.wsgiapp import run

    sys.argv[0] = "gunicorn"
    run()


if __name__ == "__main__":
    main()
