"""Spotting pupils who drift: the disengagement rules (pure), gathering each pupil's signals
for them, and the alerts they open, acknowledged and resolved by the people sent them."""
