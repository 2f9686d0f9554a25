"""Tests of modelstack.planner (a package so that test module names may repeat across layers)."""
