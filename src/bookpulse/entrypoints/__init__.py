"""Entry points: REST API, web pages, live stream, command line."""
