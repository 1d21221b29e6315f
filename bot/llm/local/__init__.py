"""The local backend: a Hugging Face transformers model on this machine, batched."""
