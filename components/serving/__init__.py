"""Model serving components: ModelAPI (one per model) and TrafficSplitter. Import them from `modelstack`."""
