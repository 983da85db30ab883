"""The bookstore catalog service."""
