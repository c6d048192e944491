"""Flows, tasks, steps, replay, futures, retries: the execution model."""
