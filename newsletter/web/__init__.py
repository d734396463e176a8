"""The web handler: the WSGI app behind every unsubscribe link, its forms, the server."""
