"""Owner pages: the STEP1-5 registration wizard, more gateways and the main menu."""
