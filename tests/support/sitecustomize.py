"""Loaded by subprocesses that tests start with this folder on PYTHONPATH."""

import loopback
import robot_offers

loopback.install()
robot_offers.install()  # only with TEST_ROBOT_OFFER_FILE set
