"""Issuing policies as files: the shipped default and the loader that checks them."""
