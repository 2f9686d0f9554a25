"""Model serving components: ModelAPI (one per model), TrafficSplitter, AsyncModelAPI and BatchModelAPI (with
their ModelQueue). Import them from `modelstack`."""
