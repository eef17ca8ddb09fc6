"""The scorecut.v1 wire contract (generated code beside scorecut.proto)."""
