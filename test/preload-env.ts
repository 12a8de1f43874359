// No test may depend on a timing: engine auto picks onnx on the CPU without measuring (engine.autoProbe).
// Child processes (the CLI runs tests spawn) inherit it. The probe's own tests pass their settings and env explicitly.
process.env.PRUNING_HARNESS_AUTO_PROBE = "off";
