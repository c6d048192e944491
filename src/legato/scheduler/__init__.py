"""The scheduler: schedules (cron, intervals) and triggers that start deployments."""
