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


class NothingToSearch(CatalogError):
    """A search text that only leaves books out (``-hobbit``): no word to find them by.

    Answered as the parameter's validation error (422 naming ``q``): the text
    is at fault, though which of its words are stop words only the catalog
    knows.
    """

    def __init__(self, text: str) -> None:
        super().__init__(
            "nothing to search for: -word only leaves books out (and stop words such as"
            " 'the' are not searched); add a word to find, or list the books without q"
        )
        self.text = text


class InvalidRange(CatalogError):
    """A range of time the search insights cannot answer (empty, or too many buckets)."""
