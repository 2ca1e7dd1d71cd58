"""Chain adapters (ethereum, substrate) and the relayer daemon: observe -> verify -> sign -> submit -> confirm."""
