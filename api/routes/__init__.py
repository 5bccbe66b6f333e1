"""The API's routes, one module per resource: each parses its input, calls the domain
modules of citizenwatt.api and shapes the answer. Route modules import no other route
module; what they share lives in deps.py (dependencies) and schemas.py (models)."""
