"""Kubernetes: kubeconfig, the API client, pod annotations, NADs, network-status, device IDs.

Standard library only (PyYAML for a YAML kubeconfig, imported when one is read). Knows the
CNI protocol layer (its errors) and nothing of Multus's own logic; imported only by requests
that need the API.
"""
