"""The call between the two ends of a lesson: the session socket, its messages and the
exchange of offers, answers and candidates."""
