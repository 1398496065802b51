"""The CNI protocol layer: standard library only, no Multus knowledge."""
