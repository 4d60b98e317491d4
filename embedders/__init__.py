"""Built-in embedder kinds (`tflite`, `onnx`, `hear`, `savedmodel`, `dsp`) and the presets in
`presets.yaml`. `tflite` and `onnx` are adapters over one framing/pooling core (`framing.py`)."""
