"""Built-in NOSS task definitions: one module per task, each exporting `TASK`."""

from noss_eval.tasks import crema_d, esc50_hs, mask, speech_commands, voxceleb1

BUILTIN_TASKS = {m.TASK.name: m.TASK for m in (voxceleb1, crema_d, speech_commands, mask, esc50_hs)}
