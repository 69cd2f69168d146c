"""Tasks: pure functions of (config, generator) that yield [B, T] token batches with loss masks.

Importing this package registers every task, so `build_task({"name": ...})` knows all of them.
"""

from .registry import TASKS, build_task, register_task
from .task import Batch, Task

__all__ = ["TASKS", "Batch", "Task", "build_task", "register_task"]
