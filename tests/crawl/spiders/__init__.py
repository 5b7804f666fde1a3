"""Tests of crawl.spiders."""
