"""The openai backend: OpenAI's API and every OpenAI-compatible server (vLLM, Ollama, ...)."""
