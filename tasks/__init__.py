"""Built-in NOSS task definitions: one module per dataset, each exporting `TASK` (and opt-in
variants, run only when named in --tasks)."""

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
    t.name: t
    for t in (
        voxceleb1.TASK,
        crema_d.TASK,
        speech_commands.TASK,
        mask.TASK,
        esc50_hs.TASK,
        voxforge.TASK,
        savee.TASK,
        dementiabank.TASK,
        voxceleb1.ALL_SPEAKERS_TASK,
        speech_commands.LISTS_TASK,
        voxforge.ALL_AUDIO_TASK,
    )
}
