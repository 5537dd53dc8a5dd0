"""Reading the rota: a school's day for staff (with advice on what they could do about a
move), one assistant's day for them, and their moves as a calendar feed."""
