"""Thin HTTP routers: parse the request, call the data layer, shape the response."""
