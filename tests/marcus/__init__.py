"""Tests of marcus."""
