"""The default templates (mail and web), installed as package data; `newsletter init` copies them."""
