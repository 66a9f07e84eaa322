"""One blueprint per service; `core` holds what every service shares."""
