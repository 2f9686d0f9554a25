"""Stack config: the pydantic schema (`schema`), the cross-key checks (`checks`) and `load.load_platform`, which
runs both and reports every problem at once. Reads no Pulumi config itself; the stack program hands it values."""
