"""`python -m celery`, for the test suite's worker subprocesses, on the run's clock.

The root conftest starts workers through this module. When the run has a clock
(`pytest --clock=...`) it passes the moment in SMP_TEST_CLOCK and the worker travels there
(ticking) before the worker reads any setting or starts, so the worker and the tests agree
on "now". Only this test module reads the variable: production code never looks at it.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime

CLOCK_ENV = "SMP_TEST_CLOCK"


def travel_from_env() -> None:
    moment = os.environ.get(CLOCK_ENV)
    if moment:
        import time_machine

        time_machine.travel(datetime.fromisoformat(moment), tick=True).start()


def main() -> None:
    travel_from_env()
    from celery.__main__ import main as celery_main

    sys.argv[0] = "celery"
    celery_main()


if __name__ == "__main__":
    main()
