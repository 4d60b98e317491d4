"""Built-in NOSS task definitions: one module per task, each exporting `TASK`."""

from noss_eval.tasks import (
    crema_d,
    dementiabank,
    esc50_hs,
    mask,
    savee,
    speech_commands,
    voxceleb1,
    voxforge,
)

BUILTIN_TASKS = {
    m.TASK.name: m.TASK
    for m in (voxceleb1, crema_d, speech_commands, mask, esc50_hs, voxforge, savee, dementiabank)
}
