"""Node setup: what the DaemonSet's container does on each node (install the file, the kubeconfig,
and the generated multus config), shared by `multus install` and the daemon's `multusConfigFile: auto`."""
