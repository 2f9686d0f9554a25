"""From a validated platform to what to build: node groups, instance types, sizes and their cost (`capacity`)."""
