"""End-to-end tier: the installed CLI inside Linux network namespaces (issue 4)."""
