"""Built-in embedder kinds (`tflite`, `savedmodel`, `dsp`) and the presets in `presets.yaml`."""
