"""Telling others something happened: live events in one process and across instances,
and the notifier port feature packages use to tell people."""
