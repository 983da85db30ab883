"""Domain errors, raised where the fault is known and turned into HTTP once.

The data layer knows nothing of status codes; ``bookstore.api.errors`` maps
each class to one.
"""


class CatalogError(Exception):
    """Base class: the message is safe to show to the client."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(CatalogError):
    """The id in the path names nothing."""


class Conflict(CatalogError):
    """The write would break a uniqueness rule or orphan stored data."""


class InvalidReference(CatalogError):
    """A body names an id (author_id, category_ids) that does not exist."""


class InvalidCursor(CatalogError):
    """A pagination cursor was not issued by us for this query."""


class PreconditionFailed(CatalogError):
    """The caller's version of a book (its ETag) is no longer the stored one."""


class InvalidImportFile(CatalogError):
    """An import file that cannot be read as a whole (no header, unknown columns)."""


class InvalidRange(CatalogError):
    """A range of time the search insights cannot answer (empty, or too many buckets)."""
