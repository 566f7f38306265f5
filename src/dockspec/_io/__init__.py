"""The only package that touches sockets, pipes, files, clocks and threads."""
