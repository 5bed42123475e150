"""The `ferry` command line, composed from the compiler, sandbox and proxy components."""
