"""The search index behind ``GET /books?q=``: derived tables kept by triggers.

Three tables, all derived from books, authors, categories and book_category,
never written by the application:

- ``search_words``: the vocabulary, one row per word (folded, stemmed) with
  the number of books holding it. Typos are corrected against it (a GiST
  trigram index finds the nearest words), prefixes expanded on its btree
  (collation "C", so that a prefix is a range).
- ``book_search``: per book, its words by field (title, author, categories,
  description) and all of them (``words``, GIN: every word of a query must
  match, an AND of array overlaps), plus a tsvector for quoted phrases.
- ``search_postings``: (word, field, book_id), one row per word of a book at
  the best field it appears in. Its primary key is the order of relevance
  for one word (title first, then author, category, description; then id),
  so the best books for a word are the first entries of one index range.

Text is folded by ``search_fold`` (lower case; accents stripped through NFKD;
ß, æ, œ, ø, ł, đ, ð, þ, ı spelled out), with no extension beyond pg_trgm
(the embedded server has no unaccent), then split and stemmed by
``to_tsvector('english', ...)``. Any write, through the API, the admin or
psql, reindexes the books it touches in the same transaction: the next
request sees it. ``search_rebuild()`` indexes every book at once (seeding,
and this migration on an existing catalog).

These tables are not declared as Piccolo tables: Piccolo has no tsvector
column and no composite primary key.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from bookstore.sql_migrations import raw_sql_migration

ID = "2026-11-28T23:45:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "search index: vocabulary, per-book words, postings, kept by triggers"

# The book's words by field, computed from the current rows; used by the
# single-book reindex and the bulk rebuild alike.
_BOOK_WORDS = """
    SELECT b.id AS book_id, b.author_id,
           search_lexemes(b.title) AS title,
           search_lexemes(a.name) AS author,
           coalesce(search_lexemes(links.names), '{}') AS categories,
           coalesce(search_lexemes(b.description), '{}') AS description,
           to_tsvector('english', search_fold(concat_ws(' ', b.title, a.name, b.description)))
               AS document,
           links.names
    FROM books b
    JOIN authors a ON a.id = b.author_id
    LEFT JOIN LATERAL (
        SELECT string_agg(c.name, ' ') AS names
        FROM book_category bc JOIN categories c ON c.id = bc.category_id
        WHERE bc.book_id = b.id
    ) AS links ON TRUE
"""

FORWARDS = [
    r"""
    CREATE FUNCTION search_fold(text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
        SELECT regexp_replace(
            normalize(
                translate(
                    replace(replace(replace(replace(lower($1), 'ß', 'ss'), 'æ', 'ae'),
                                    'œ', 'oe'), 'þ', 'th'),
                    'øłđðı', 'olddi'),
                NFKD),
            '[\u0300-\u036f]', '', 'g')
    $$
    """,
    """
    CREATE FUNCTION search_lexemes(text) RETURNS text[]
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
        SELECT coalesce(array_agg(lexeme ORDER BY lexeme), '{}')
        FROM unnest(to_tsvector('english', search_fold($1)))
    $$
    """,
    """
    CREATE TABLE search_words (
        word text COLLATE "C" PRIMARY KEY,
        books integer NOT NULL
    )
    """,
    "CREATE INDEX search_words_trigram_idx ON search_words USING gist (word gist_trgm_ops)",
    """
    CREATE TABLE book_search (
        book_id integer PRIMARY KEY REFERENCES books (id) ON DELETE CASCADE,
        author_id integer NOT NULL,
        title text[] NOT NULL,
        author text[] NOT NULL,
        categories text[] NOT NULL,
        description text[] NOT NULL,
        words text[] NOT NULL,
        document tsvector NOT NULL
    )
    """,
    "CREATE INDEX book_search_words_idx ON book_search USING gin (words)",
    """
    CREATE TABLE search_postings (
        word text COLLATE "C" NOT NULL,
        field smallint NOT NULL,
        book_id integer NOT NULL,
        PRIMARY KEY (word, field, book_id)
    )
    """,
    f"""
    CREATE FUNCTION search_index_book(target integer) RETURNS void
    LANGUAGE plpgsql AS $$
    DECLARE
        old_words text[];
        new_words text[];
    BEGIN
        DELETE FROM book_search WHERE book_id = target RETURNING words INTO old_words;
        old_words := coalesce(old_words, '{{}}');
        DELETE FROM search_postings
        WHERE word = ANY(old_words) AND field IN (0, 1, 2, 3) AND book_id = target;
        INSERT INTO book_search
            (book_id, author_id, title, author, categories, description, words, document)
        SELECT book_id, author_id, title, author, categories, description,
               ARRAY(SELECT DISTINCT w FROM unnest(title || author || categories || description) w
                     ORDER BY w),
               document || to_tsvector('english', search_fold(coalesce(names, '')))
        FROM ({_BOOK_WORDS}) AS found
        WHERE book_id = target
        RETURNING words INTO new_words;
        new_words := coalesce(new_words, '{{}}');
        INSERT INTO search_postings (word, field, book_id)
        SELECT word, min(field), target
        FROM book_search s,
             LATERAL (SELECT unnest(s.title), 0 UNION ALL SELECT unnest(s.author), 1
                      UNION ALL SELECT unnest(s.categories), 2
                      UNION ALL SELECT unnest(s.description), 3) AS p (word, field)
        WHERE s.book_id = target
        GROUP BY word;
        -- The vocabulary's counts, rows locked in word order so that two
        -- writers touching the same words cannot deadlock.
        PERFORM 1 FROM search_words
        WHERE word = ANY(old_words || new_words) ORDER BY word FOR UPDATE;
        UPDATE search_words SET books = books - 1
        WHERE word = ANY(old_words) AND NOT word = ANY(new_words);
        INSERT INTO search_words (word, books)
        SELECT w, 1 FROM unnest(new_words) AS w WHERE NOT w = ANY(old_words)
        ON CONFLICT (word) DO UPDATE SET books = search_words.books + 1;
    END
    $$
    """,
    """
    CREATE FUNCTION search_unindex_book(target integer) RETURNS void
    LANGUAGE plpgsql AS $$
    DECLARE
        old_words text[];
    BEGIN
        DELETE FROM book_search WHERE book_id = target RETURNING words INTO old_words;
        IF old_words IS NULL THEN
            RETURN;
        END IF;
        DELETE FROM search_postings
        WHERE word = ANY(old_words) AND field IN (0, 1, 2, 3) AND book_id = target;
        PERFORM 1 FROM search_words WHERE word = ANY(old_words) ORDER BY word FOR UPDATE;
        UPDATE search_words SET books = books - 1 WHERE word = ANY(old_words);
    END
    $$
    """,
    f"""
    CREATE FUNCTION search_rebuild() RETURNS void
    LANGUAGE plpgsql AS $$
    BEGIN
        TRUNCATE book_search, search_postings, search_words;
        INSERT INTO book_search
            (book_id, author_id, title, author, categories, description, words, document)
        SELECT book_id, author_id, title, author, categories, description,
               ARRAY(SELECT DISTINCT w FROM unnest(title || author || categories || description) w
                     ORDER BY w),
               document || to_tsvector('english', search_fold(coalesce(names, '')))
        FROM ({_BOOK_WORDS}) AS found;
        INSERT INTO search_postings (word, field, book_id)
        SELECT word, min(field), book_id
        FROM book_search s,
             LATERAL (SELECT unnest(s.title), 0 UNION ALL SELECT unnest(s.author), 1
                      UNION ALL SELECT unnest(s.categories), 2
                      UNION ALL SELECT unnest(s.description), 3) AS p (word, field)
        GROUP BY word, book_id
        ORDER BY word, min(field), book_id;
        INSERT INTO search_words (word, books)
        SELECT w, count(*) FROM book_search, unnest(words) AS w GROUP BY w;
    END
    $$
    """,
    """
    CREATE FUNCTION search_books_changed() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM search_index_book(NEW.id);
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER search_book_inserted AFTER INSERT ON books
    FOR EACH ROW EXECUTE FUNCTION search_books_changed()
    """,
    """
    CREATE TRIGGER search_book_updated AFTER UPDATE OF title, description, author_id ON books
    FOR EACH ROW WHEN (OLD.title IS DISTINCT FROM NEW.title
                       OR OLD.description IS DISTINCT FROM NEW.description
                       OR OLD.author_id IS DISTINCT FROM NEW.author_id)
    EXECUTE FUNCTION search_books_changed()
    """,
    """
    CREATE FUNCTION search_book_deleted() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM search_unindex_book(OLD.id);
        RETURN OLD;
    END
    $$
    """,
    """
    CREATE TRIGGER search_book_deleted BEFORE DELETE ON books
    FOR EACH ROW EXECUTE FUNCTION search_book_deleted()
    """,
    """
    CREATE FUNCTION search_links_changed() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            PERFORM search_index_book(OLD.book_id);
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') AND (TG_OP = 'INSERT' OR NEW.book_id <> OLD.book_id) THEN
            PERFORM search_index_book(NEW.book_id);
        END IF;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER search_links_changed
    AFTER INSERT OR DELETE OR UPDATE OF book_id, category_id ON book_category
    FOR EACH ROW EXECUTE FUNCTION search_links_changed()
    """,
    """
    CREATE FUNCTION search_author_renamed() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM search_index_book(id) FROM books WHERE author_id = NEW.id;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER search_author_renamed AFTER UPDATE OF name ON authors
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION search_author_renamed()
    """,
    """
    CREATE FUNCTION search_category_renamed() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM search_index_book(book_id) FROM book_category WHERE category_id = NEW.id;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER search_category_renamed AFTER UPDATE OF name ON categories
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION search_category_renamed()
    """,
    # TRUNCATE skips row triggers: emptying the catalog empties its index
    # (book_search, referencing books, is emptied by the TRUNCATE's CASCADE).
    """
    CREATE FUNCTION search_books_truncated() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        TRUNCATE search_postings, search_words;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER search_books_truncated AFTER TRUNCATE ON books
    FOR EACH STATEMENT EXECUTE FUNCTION search_books_truncated()
    """,
    "SELECT search_rebuild()",
]

BACKWARDS = [
    "DROP TRIGGER search_books_truncated ON books",
    "DROP FUNCTION search_books_truncated()",
    "DROP TRIGGER search_category_renamed ON categories",
    "DROP FUNCTION search_category_renamed()",
    "DROP TRIGGER search_author_renamed ON authors",
    "DROP FUNCTION search_author_renamed()",
    "DROP TRIGGER search_links_changed ON book_category",
    "DROP FUNCTION search_links_changed()",
    "DROP TRIGGER search_book_deleted ON books",
    "DROP FUNCTION search_book_deleted()",
    "DROP TRIGGER search_book_updated ON books",
    "DROP TRIGGER search_book_inserted ON books",
    "DROP FUNCTION search_books_changed()",
    "DROP FUNCTION search_rebuild()",
    "DROP FUNCTION search_unindex_book(integer)",
    "DROP FUNCTION search_index_book(integer)",
    "DROP TABLE search_postings",
    "DROP TABLE book_search",
    "DROP TABLE search_words",
    "DROP FUNCTION search_lexemes(text)",
    "DROP FUNCTION search_fold(text)",
]


async def forwards() -> MigrationManager:
    return raw_sql_migration(ID, DESCRIPTION, FORWARDS, BACKWARDS)
