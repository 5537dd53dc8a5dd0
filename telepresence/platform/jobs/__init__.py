"""Work outside a request: timed jobs on the elected leader, their database store, the
election, the kernel's own retention jobs, and background work a request starts."""
