"""Getting into a lesson: robots invited back, a classroom's readiness test call, and how
long joining took."""
