"""Getting messages to devices across processes: what a resync makes good."""
