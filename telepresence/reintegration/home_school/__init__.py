"""Working with the pupil's home school: the contacts log and its agreed actions, after-care
visits and their calendar feed, and inviting the school's contact."""
