"""`noss-eval distill`: the FRILL workflow — a teacher's embeddings of NOSS windows, a grid of
MobileNetV3 students trained to regress them, each exported to TFLite and recorded in a manifest.

Modules: `grid` (the YAML grid, validated), `windows` (audio files -> NOSS windows, teacher targets
through the extraction engine and cache), `students` (the Keras models), `train` (seeded training
with checkpoints, early stopping, progress), `export` (TFLite, post-training quantisation, the
frontend in the graph, agreement with Keras), `manifest` (the CSV), `command` (the subcommand).
"""
