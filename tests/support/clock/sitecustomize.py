"""Moves the wall clock of the tests' Python subprocesses (`newsletter send`, `serve`)
with the suite's: `pytest --clock WHEN` puts this folder on PYTHONPATH and the
offset in NEWSLETTER_TESTS_CLOCK_OFFSET. The monotonic clock stays real, so
timeouts and waits behave; only "what time is it" moves, and it ticks."""

import os

_offset = os.environ.get("NEWSLETTER_TESTS_CLOCK_OFFSET")
if _offset:
    import time

    import time_machine

    time_machine.travel(time.time() + float(_offset), tick=True).start()  # the zone stays TZ's
