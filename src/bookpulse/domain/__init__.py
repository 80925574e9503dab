"""Pure rules and data: no I/O, no framework imports, stdlib only."""
