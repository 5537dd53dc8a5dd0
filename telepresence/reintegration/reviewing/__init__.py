"""Reviewing a plan: readiness factors, reviews and their ratings, and the engagement figures
a review shows (the port and its adapter over the engagement package's outcomes)."""
