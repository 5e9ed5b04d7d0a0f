"""Patches the launcher applies to moto 5.2.5 at start-up; see launcher.py for the overview."""
