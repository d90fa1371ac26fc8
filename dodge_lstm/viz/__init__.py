"""Pictures people look at: episode GIFs, loss curves, sweep plots.

May import: matplotlib (Figure + Agg canvas, never a global backend switch) plus `core`.
"""
