"""Declarative front ends: expressions (trigger filters, conditions), and later the
seed's notation and YAML workflows, parsed into one graph model."""
