"""The seed's Example 3, parallel processing.

    BEGIN WORKFLOW: Parallel_Execution
      TASK A: FetchDataSources()
      PARALLEL:
        TASK B: ProcessSource1(data_from_A)
        TASK C: ProcessSource2(data_from_A)
      END PARALLEL
      TASK D: AggregateResults(results_from_B_and_C)
    END WORKFLOW

``submit`` starts B and C at once on the thread pool; ``gather`` waits for both before D.
Each of B and C takes ``delay`` seconds, so the run takes about one delay, not two:
``legato runs show`` shows their intervals overlapping.
"""

from __future__ import annotations

import time

from legato import flow, gather, task


@task(name="FetchDataSources")
def fetch_data_sources() -> dict:
    """Task A: the two sources' raw readings."""
    return {
        "source1": [12, 7, 30, 18],
        "source2": [4, 45, 9, 22, 10],
    }


@task(name="ProcessSource1")
def process_source_1(data_from_a: dict, delay: float = 0.5) -> dict:
    """Task B: a slow pass over source 1 (``delay`` stands in for real work)."""
    time.sleep(delay)
    values = data_from_a["source1"]
    return {"source": "source1", "count": len(values), "total": sum(values)}


@task(name="ProcessSource2")
def process_source_2(data_from_a: dict, delay: float = 0.5) -> dict:
    """Task C: a slow pass over source 2, at the same time as B."""
    time.sleep(delay)
    values = data_from_a["source2"]
    return {"source": "source2", "count": len(values), "total": sum(values)}


@task(name="AggregateResults")
def aggregate_results(results_from_b_and_c: list[dict]) -> dict:
    """Task D: combine B's and C's summaries."""
    return {
        "sources": [r["source"] for r in results_from_b_and_c],
        "count": sum(r["count"] for r in results_from_b_and_c),
        "total": sum(r["total"] for r in results_from_b_and_c),
    }


@flow(name="Parallel_Execution")
def parallel_execution(delay: float = 0.5) -> dict:
    data_from_a = fetch_data_sources()
    source_1 = process_source_1.submit(data_from_a, delay)
    source_2 = process_source_2.submit(data_from_a, delay)
    results_from_b_and_c = gather(source_1, source_2)
    return aggregate_results(results_from_b_and_c)


if __name__ == "__main__":
    print(parallel_execution())
