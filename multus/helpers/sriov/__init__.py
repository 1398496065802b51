"""The built-in SR-IOV delegate (both config dialects): sysfs discovery, VF control, ADD/DEL."""
