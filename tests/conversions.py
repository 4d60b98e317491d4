"""Real model conversions for the ONNX tests: TFLite -> ONNX with tf2onnx (which reads TFLite
flatbuffers), and a float-weight copy of a dynamic-range-quantised TFLite model.

Why the float copy: the real YAMNet TFLite keeps int8 weights in its FULLY_CONNECTED ops (the DFT
and mel matmuls), which LiteRT runs as *hybrid* kernels that quantise the activations to int8 on
the fly; ONNX Runtime computes those layers in float. The two runtimes then differ by ~1 % in the
log-mel (and up to 0.36 in the 1024-d embedding), which is the model's quantisation, not the
runtime. With those weights dequantised (`float_weights`) both runtimes do the same arithmetic and
agree to float32 rounding."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def to_onnx(tflite: Path, target: Path, outputs: list[str] | None = None) -> Path:
    """`tf2onnx.convert.from_tflite`; `outputs` (tensor names, intermediate ones too) become the
    ONNX graph's outputs."""
    import tf2onnx

    tf2onnx.convert.from_tflite(str(tflite), output_names=outputs, output_path=str(target))
    return target


def float_weights(source: Path, target: Path) -> int:
    """Copy of a TFLite model whose int8 constant inputs of compute ops (hybrid kernels) are
    dequantised to float32 with their own scale and zero point; returns how many. DEQUANTIZE ops
    keep their int8 inputs (they already compute in float)."""
    from tensorflow.lite.tools import flatbuffer_utils as fb

    model = fb.read_model(str(source))
    graph = model.subgraphs[0]
    dequantize = {
        i
        for i, code in enumerate(model.operatorCodes)
        if max(code.builtinCode, code.deprecatedBuiltinCode) == 6  # BuiltinOperator.DEQUANTIZE
    }
    done = 0
    for op in graph.operators:
        if op.opcodeIndex in dequantize:
            continue
        for index in (i for i in op.inputs if i >= 0):
            tensor = graph.tensors[index]
            buffer = model.buffers[tensor.buffer]
            q = tensor.quantization
            if tensor.type != 9 or buffer.data is None or q is None or q.scale is None:  # INT8
                continue
            w = np.frombuffer(bytes(buffer.data), np.int8).astype(np.float32).reshape(tensor.shape)
            scale = np.asarray(q.scale, np.float32)
            zero = np.asarray(q.zeroPoint if q.zeroPoint is not None else [0], np.float32)
            if scale.size > 1:  # per-channel
                shape = [1] * w.ndim
                shape[q.quantizedDimension] = -1
                scale, zero = scale.reshape(shape), zero.reshape(shape)
            buffer.data = np.frombuffer(((w - zero) * scale).astype(np.float32).tobytes(), np.uint8)
            tensor.type, tensor.quantization = 0, None  # FLOAT32
            done += 1
    target.write_bytes(bytes(fb.convert_object_to_bytearray(model)))
    return done
