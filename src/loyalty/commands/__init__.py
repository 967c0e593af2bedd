"""One module per `loyalty` command; each exposes a click command named `command`."""
