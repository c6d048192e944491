"""The seed's Prefect-style example, on legato and the standard library.

The seed's code, nearly line for line: ``@task(retries=2)`` fetches JSON from an API (two
retries after the first attempt, so three attempts in all), ``@task`` extracts the title,
and ``@flow(name="API Data Extraction Flow")`` ties them together. ``urllib.request``
replaces ``requests``; like ``raise_for_status()`` it raises on an HTTP error status,
which is what the retries catch.

    python examples/seed/api_flow.py [URL]
    legato run examples/seed/api_flow.py:api_flow -p url=http://127.0.0.1:8000/todos/1
"""

from __future__ import annotations

import json
import sys
import urllib.request

from legato import flow, task

DEFAULT_URL = "https://jsonplaceholder.typicode.com/todos/1"


@task(retries=2, retry_delay=0.2)
def get_data_from_api(url: str) -> dict:
    """Task to fetch data from a public API."""
    with urllib.request.urlopen(url, timeout=10) as response:  # raises HTTPError on 4xx/5xx
        return json.load(response)


@task
def extract_title(data: dict) -> str:
    """Task to extract the title from the data."""
    return data.get("title", "No Title Found")


@flow(name="API Data Extraction Flow")
def api_flow(url: str = DEFAULT_URL) -> str:
    """Flow to fetch data from an API and extract its title."""
    print(f"Running flow to get data from {url}")
    data = get_data_from_api(url)
    title = extract_title(data)
    print(f"Extracted Title: {title}")
    return title


if __name__ == "__main__":
    print(api_flow(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_URL))
