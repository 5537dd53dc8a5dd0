"""An assistant's duty as staff set it in the pages: weekly hours, a break, days away."""

from scheduler.rota.duty.pages import duty_from_form, routes

__all__ = ["duty_from_form", "routes"]
