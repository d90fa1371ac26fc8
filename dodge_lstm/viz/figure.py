"""A matplotlib Figure on its own Agg canvas: no pyplot, so no global backend switch.

Library code that draws must not call `matplotlib.use` or touch pyplot's global state: the
caller may be a notebook, a GUI or another thread with a backend of its own.
"""

from __future__ import annotations

from typing import Any

__all__ = ["agg_figure"]


def agg_figure(width: float, height: float, dpi: float = 100) -> Any:
    """A `matplotlib.figure.Figure` of `width` x `height` inches that renders with Agg."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig
