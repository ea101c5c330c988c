"""Synthetic tasks with controlled knowledge, each a package (`two_hop/`, `math/`) that
builds one `Task`; registered here by name, one line each (docs/extending.md)."""

from ..registry import Registry
from . import math, two_hop
from .base import N_REFERENCE, REFERENCE_ROLE, ProbeEntity, Task
from .catalog import REFERENCES, REPLAY_REFERENCES, Catalog
from .example import Example

TASKS: Registry[Task] = Registry("task")
TASKS.register("two_hop")(two_hop.TASK)
TASKS.register("math")(math.TASK)


def task_of(cfg) -> Task:
    """The task an experiment config names."""
    return TASKS.get(cfg.task)


__all__ = ["Catalog", "Example", "N_REFERENCE", "ProbeEntity", "REFERENCES", "REFERENCE_ROLE", "REPLAY_REFERENCES",
           "TASKS", "Task", "task_of"]
