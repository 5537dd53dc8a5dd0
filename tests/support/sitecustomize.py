"""Loaded by subprocesses that tests start with this folder on PYTHONPATH."""

import loopback

loopback.install()
