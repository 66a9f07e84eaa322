"""Gateway registration and monitoring: slips, the registration wizard, the monitoring page."""
