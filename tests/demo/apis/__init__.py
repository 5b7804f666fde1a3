"""Tests of demo.apis."""
