"""Tests of modelstack.render (a package so that test module names may repeat across layers)."""
