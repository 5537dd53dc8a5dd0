"""What an operator sees and does: metrics, probes, structured logs, a bounded shutdown."""
