"""Shared plumbing for the Marcus pipeline: params loading and atomic file writes.

The pipeline packages (``crawl``, ``curate``, ``train``) import from here; nothing here
imports them.
"""
