"""The relayer daemon: observe -> verify -> sign -> submit -> confirm, with a persisted state per message."""
