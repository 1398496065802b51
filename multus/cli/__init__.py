"""The admin CLI (click): the same code as the CNI path, driven by hand. Never imported on a CNI exec."""
