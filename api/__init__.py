"""API: FastAPI service with JSON endpoints and the household web pages."""
