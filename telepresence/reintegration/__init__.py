"""Reintegration: each pupil's plan back to school, its reviews, contacts, visits and timeline."""

from telepresence.reintegration.domain import (
    Goal,
    Outcome,
    Phase,
    Rating,
    SchoolDays,
    check_phase_change,
    in_school,
)

__all__ = ["Goal", "Outcome", "Phase", "Rating", "SchoolDays", "check_phase_change", "in_school"]
