"""The faces of dockyard: the docker-style command line and the Textual workbench."""
