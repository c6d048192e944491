"""The seed's Example 1, sequential workflow execution.

    BEGIN WORKFLOW: Simple_Sequence
      TASK A: IngestData()
      TASK B: ProcessData(data_from_A)
      TASK C: GenerateReport(data_from_B)
    END WORKFLOW

Each task call is a durable step, so B starts only once A's result is recorded and C
only once B's is. Run it with ``python examples/seed/sequential.py`` or
``legato run examples/seed/sequential.py:simple_sequence``.
"""

from __future__ import annotations

from legato import flow, task


@task(name="IngestData")
def ingest_data() -> list[dict]:
    """Task A: bring in the raw records (a small fixed sample here)."""
    return [
        {"region": "north", "sales": 120},
        {"region": "south", "sales": 80},
        {"region": "east", "sales": 200},
        {"region": "west", "sales": 100},
    ]


@task(name="ProcessData")
def process_data(data_from_a: list[dict]) -> dict:
    """Task B: summarise what A ingested."""
    total = sum(row["sales"] for row in data_from_a)
    best = max(data_from_a, key=lambda row: row["sales"])
    return {"records": len(data_from_a), "total_sales": total, "top_region": best["region"]}


@task(name="GenerateReport")
def generate_report(data_from_b: dict) -> str:
    """Task C: turn B's summary into a report."""
    return (
        f"{data_from_b['records']} regions, total sales {data_from_b['total_sales']}, "
        f"top region {data_from_b['top_region']}"
    )


@flow(name="Simple_Sequence")
def simple_sequence() -> str:
    data_from_a = ingest_data()
    data_from_b = process_data(data_from_a)
    return generate_report(data_from_b)


if __name__ == "__main__":
    print(simple_sequence())
