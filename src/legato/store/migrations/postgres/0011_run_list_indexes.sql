-- 0011 the run list filtered by flow and state (GET /api/v1/runs?flow=F&state=S): one
-- ordered index range, newest first, instead of every run of the flow read and filtered.
CREATE INDEX runs_by_flow_state ON runs (flow_name, state, created_at, run_id);
