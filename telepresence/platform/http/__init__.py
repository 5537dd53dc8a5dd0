"""The web machinery every package's routes stand on: declared routes and their
authorisation, page rendering, the OpenAPI document, typed application state."""
