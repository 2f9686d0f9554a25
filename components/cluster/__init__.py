"""The cluster layer's Pulumi components: Network, Cluster (control_plane), NodeGroup, ClusterAutoscaler,
PlatformAddons, and the ClusterHandle that the serving layer takes. Import them from `modelstack`."""
