"""Built-in metadata readers: one module per format, registered when imported."""
