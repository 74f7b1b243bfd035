"""Tests of gan_core.data (a package so its conftest does not shadow tests/conftest.py)."""
