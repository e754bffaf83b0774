"""Test helpers: real local stand-ins and polling utilities (the one allowed helpers package)."""
