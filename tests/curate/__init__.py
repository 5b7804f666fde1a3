"""Tests of curate."""
