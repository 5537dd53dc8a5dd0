"""Watching a live lesson through the server's relay: the watch page, the relay and its
forwarding of encoded media."""
