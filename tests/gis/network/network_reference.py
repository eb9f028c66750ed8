"""An independent reference for walking distances: networkx Dijkstra on a split graph.

The same network and the same edge-point joins as ``gis.network`` (the
Attachment of every building and facility), but built the plain way: every
joined point becomes a node splitting its edge at its fraction, homes lead to
their split node by their leg, split nodes lead to their facility by its leg,
and every facility leads to one sink. The distance of a home is its shortest
path to the sink, found by networkx from the sink over the reversed graph.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from typing import Any

import networkx as nx
import numpy as np

from gis.network import Attachment, Network

SINK = ("sink",)


def reference_graph(
    net: Network, sources: Attachment, targets: Attachment, nodes: tuple[Any, Any] | None = None
) -> nx.MultiDiGraph:
    """Directed graph, arcs in the walking direction (home → facility).

    ``nodes`` (each edge's end ids, e.g. OSM node ids) replace the network's own
    numbering, so the reference does not lean on ``Network``'s snapping.
    """
    ends = (net.source, net.target) if nodes is None else nodes
    g: nx.MultiDiGraph = nx.MultiDiGraph()
    on_edge: dict[int, list[tuple[float, object]]] = defaultdict(list)
    for kind, att in (("f", sources), ("h", targets)):
        for i in range(len(att)):
            e = int(att.edge[i])
            if e < 0:
                continue
            split = ("split", kind, i)
            on_edge[e].append((float(att.fraction[i]), split))
            if kind == "h":
                g.add_edge(("h", i), split, weight=float(att.leg_m[i]))
            else:
                g.add_edge(split, ("f", i), weight=float(att.leg_m[i]))
                g.add_edge(("f", i), SINK, weight=0.0)
    for e in range(net.edge_count):
        u, v = ("n", int(ends[0][e])), ("n", int(ends[1][e]))
        length = float(net.length_m[e])
        chain = [(0.0, u), *sorted(on_edge.get(e, []), key=lambda p: p[0]), (1.0, v)]
        for (fa, a), (fb, b) in itertools.pairwise(chain):
            w = (fb - fa) * length
            if net.forward[e]:
                g.add_edge(a, b, weight=w)
            if net.backward[e]:
                g.add_edge(b, a, weight=w)
            if fa == fb:  # two points at the same place are one place
                g.add_edge(a, b, weight=0.0)
                g.add_edge(b, a, weight=0.0)
    return g


def reference_distances(
    net: Network,
    sources: Attachment,
    targets: Attachment,
    cutoff_m: float,
    nodes: tuple[Any, Any] | None = None,
) -> np.ndarray:
    """Walking metres from each target to its nearest source; inf beyond ``cutoff_m``."""
    g = reference_graph(net, sources, targets, nodes)
    out = np.full(len(targets), np.inf)
    if SINK not in g:
        return out
    got = nx.single_source_dijkstra_path_length(g.reverse(copy=False), SINK, cutoff=cutoff_m)
    for i in range(len(targets)):
        d = got.get(("h", i))
        if d is not None:
            out[i] = d
    return out
