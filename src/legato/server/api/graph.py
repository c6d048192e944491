"""``/api/v1/runs/{id}/graph``: the laid-out graph of a run's steps (``legato.run_graph``),
as JSON for programs and as SVG for the web UI."""

from __future__ import annotations

from fastapi import APIRouter, Response

from legato.run_graph import build_graph, to_svg
from legato.server.api.deps import ERRORS, RUN_NOT_FOUND, Reader, Store
from legato.server.api.runs import get_existing
from legato.server.schemas import GraphOut, graph_out

router = APIRouter(prefix="/runs", tags=["runs"], responses=ERRORS)


@router.get("/{run_id}/graph", response_model=GraphOut, responses=RUN_NOT_FOUND)
def run_graph(run_id: str, store: Store, _: Reader) -> GraphOut:
    """The run's steps in layers (parallel steps side by side, maps folded), with the
    position of each node."""
    get_existing(store, run_id)
    return graph_out(build_graph(store.get_steps(run_id)))


@router.get(
    "/{run_id}/graph.svg",
    response_class=Response,
    responses={**RUN_NOT_FOUND, 200: {"content": {"image/svg+xml": {}}}},
)
def run_graph_svg(run_id: str, store: Store, _: Reader) -> Response:
    """The same graph drawn as SVG (nodes coloured by state; a child run's node links to
    it in the web UI)."""
    get_existing(store, run_id)
    svg = to_svg(build_graph(store.get_steps(run_id)), run_link="#/runs/{run_id}")
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-store"})
