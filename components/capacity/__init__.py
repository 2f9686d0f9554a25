"""Capacity maths: the price table, replica sizing on allocatable capacity, the instance optimizer and the cost
estimate. Pure; depends only on `render` and the data files."""
