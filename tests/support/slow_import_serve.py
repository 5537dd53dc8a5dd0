"""``classbridge serve`` whose timetable parser takes ``SLOW_PARSE_SECONDS`` longer.

The parser runs where every import's does (``asyncio.to_thread`` from the
import service), so a stop during an upload meets a real long import.
"""

import os
import sys
import time
from typing import Any

from scheduler.timetables import services
from telepresence.cli import main

real_parse = services.parse_timetable


def slow_parse(*args: Any, **kwargs: Any) -> Any:
    print("parse_started", flush=True)
    time.sleep(float(os.environ["SLOW_PARSE_SECONDS"]))
    return real_parse(*args, **kwargs)


services.parse_timetable = slow_parse
sys.exit(main(["serve"]))
