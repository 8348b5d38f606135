"""The plan: everything knowable about a run before a GPU is touched (rows, effective batch,
optimizer updates, schedule, memory, disk), computed from a recipe and its datasets."""

from swiftkit.plan.plan import Plan, make_plan

__all__ = ["Plan", "make_plan"]
