"""Storage: the port every backend implements, the counting rules, and the backends."""
