"""search_logs partitioned by day, with bigint ids, and rolled up by the hour.

At 1,000 searches a second the log grows by 86 million rows a day: an
``integer`` id runs out within a month, a ``DELETE`` of last quarter's rows
locks and bloats for hours, and any dashboard reading raw rows is minutes
behind. So:

- ``search_logs`` becomes a table partitioned by UTC day (``search_logs_YYYYMMDD``),
  ids ``bigint`` (same sequence, continued). Retention drops a whole day's
  partition: a catalog change, not a row-by-row delete
  (``bookstore.search_log_retention``). ``search_logs_add_partitions(first,
  last)`` creates the days missing, under an advisory lock so that workers
  do not race.
- Three rollups, written by the search-log writer in the same statement as
  the raw rows (``bookstore.search_log``), never re-read from raw rows:

  - ``search_log_hours`` and ``search_log_days``: per hour (per UTC day) and
    latency bucket (a log-scale histogram, 10% wide buckets), searches and
    zero-result searches. Totals, rates and percentiles of any range come
    from them: whole days from the daily one, the range's edges from the
    hourly one.
  - ``search_log_terms_hourly`` and ``search_log_terms_daily``: per hour (per
    day) and search (the q, or the author and category terms; folded for case,
    accents and spacing), its count and zero-result count, and one example as
    typed (``params``, to replay it on ``GET /books``). Top lists read whole
    days from the daily table and the range's ragged edges from the hourly one.

Existing rows are copied into the partitions and rolled up here, with the
SQL twins of the writer's Python (``search_fold``, the same bucket formula):
on an installation with a big log this migration reads it once.

Piccolo's table keeps its implicit ``Serial`` id (see ``SearchLog``): its
migrations cannot turn a serial into a bigserial; the SQL below does.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from bookstore.sql_migrations import raw_sql_migration

ID = "2026-11-29T03:35:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "search_logs partitioned by day, bigint ids; hourly and daily rollups"

# bookstore.search_log.normalize_search in SQL.
_NORMALIZE = "coalesce(regexp_replace(btrim(search_fold({0}), ' \t\r\n'), '\\s+', ' ', 'g'), '')"
# bookstore.search_log.latency_bucket in SQL.
_LATENCY_BUCKET = (
    "least(149, greatest(0, ceil(ln(greatest({0}, 0.05) / 0.05) / ln(1.1) - 1e-9)))::smallint"
)

# The rows already in search_logs, rolled up as the writer would have
# (benchmarks/search_insights.py rolls its generated rows up with it too).
ROLL_UP_EXISTING_ROWS = [
    f"""
    INSERT INTO search_log_hours (hour, latency_bucket, searches, zero_results)
    SELECT date_trunc('hour', created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
           {_LATENCY_BUCKET.format("duration_ms")},
           count(*), count(*) FILTER (WHERE result_count = 0)
    FROM search_logs GROUP BY 1, 2
    """,
    """
    INSERT INTO search_log_days (day, latency_bucket, searches, zero_results)
    SELECT (hour AT TIME ZONE 'UTC')::date, latency_bucket, sum(searches), sum(zero_results)
    FROM search_log_hours GROUP BY 1, 2
    """,
    f"""
    CREATE TEMPORARY TABLE search_logs_terms ON COMMIT DROP AS
    SELECT hour,
           search_q AS q,
           CASE WHEN search_q = '' THEN {_NORMALIZE.format("author")} ELSE '' END AS author,
           CASE WHEN search_q = '' THEN {_NORMALIZE.format("category")} ELSE '' END AS category,
           CASE WHEN search_q <> '' THEN jsonb_build_object('q', q)
                ELSE jsonb_strip_nulls(jsonb_build_object('author', author, 'category', category))
           END AS params,
           result_count
    FROM (
        SELECT date_trunc('hour', created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS hour,
               {_NORMALIZE.format("q")} AS search_q, q, author, category, result_count
        FROM search_logs
    ) AS logged
    """,
    """
    INSERT INTO search_log_terms_hourly
        (hour, q, author, category, params, searches, zero_results)
    SELECT hour, q, author, category, (array_agg(params))[1],
           count(*), count(*) FILTER (WHERE result_count = 0)
    FROM search_logs_terms WHERE (q, author, category) <> ('', '', '')
    GROUP BY 1, 2, 3, 4
    """,
    """
    INSERT INTO search_log_terms_daily
        (day, q, author, category, params, searches, zero_results)
    SELECT (hour AT TIME ZONE 'UTC')::date, q, author, category, (array_agg(params))[1],
           sum(searches), sum(zero_results)
    FROM search_log_terms_hourly GROUP BY 1, 2, 3, 4
    """,
    "DROP TABLE search_logs_terms",
]

FORWARDS = [
    "ALTER TABLE search_logs RENAME TO search_logs_unpartitioned",
    "ALTER INDEX search_logs_pkey RENAME TO search_logs_unpartitioned_pkey",
    # The sequence outlives the old table: ids go on from where they were.
    "ALTER SEQUENCE search_logs_id_seq OWNED BY NONE",
    "ALTER SEQUENCE search_logs_id_seq AS bigint",
    """
    CREATE TABLE search_logs (
        id bigint NOT NULL DEFAULT nextval('search_logs_id_seq'),
        author text,
        category text,
        q text,
        query text,
        result_count integer NOT NULL DEFAULT 0,
        duration_ms double precision NOT NULL DEFAULT 0.0,
        created_at timestamptz NOT NULL DEFAULT current_timestamp,
        -- A partitioned table's key must hold the partition key.
        PRIMARY KEY (id, created_at)
    ) PARTITION BY RANGE (created_at)
    """,
    "ALTER SEQUENCE search_logs_id_seq OWNED BY search_logs.id",
    """
    CREATE FUNCTION search_logs_add_partitions(first_day date, last_day date) RETURNS integer
    LANGUAGE plpgsql AS $$
    DECLARE
        day date;
        created integer := 0;
    BEGIN
        -- Two workers creating the same day would collide on the catalog.
        PERFORM pg_advisory_xact_lock(hashtext('search_logs_add_partitions'));
        FOR day IN SELECT generate_series(first_day, last_day, interval '1 day')::date LOOP
            IF to_regclass(format('search_logs_%s', to_char(day, 'YYYYMMDD'))) IS NULL THEN
                EXECUTE format(
                    'CREATE TABLE %I PARTITION OF search_logs FOR VALUES FROM (%L) TO (%L)',
                    'search_logs_' || to_char(day, 'YYYYMMDD'),
                    day::timestamp AT TIME ZONE 'UTC',
                    (day + 1)::timestamp AT TIME ZONE 'UTC');
                created := created + 1;
            END IF;
        END LOOP;
        RETURN created;
    END
    $$
    """,
    """
    SELECT search_logs_add_partitions(
        least((SELECT min(created_at AT TIME ZONE 'UTC')::date FROM search_logs_unpartitioned),
              (now() AT TIME ZONE 'UTC')::date),
        (now() AT TIME ZONE 'UTC')::date + 2)
    """,
    """
    INSERT INTO search_logs (id, author, category, q, query, result_count, duration_ms, created_at)
    SELECT id, author, category, q, query, result_count, duration_ms, created_at
    FROM search_logs_unpartitioned
    """,
    "DROP TABLE search_logs_unpartitioned",
    # The admin's newest-first list and its "found nothing" filter (as before).
    "CREATE INDEX search_logs_created_at_id_idx ON search_logs (created_at, id)",
    "CREATE INDEX search_logs_zero_results_idx ON search_logs (created_at, id)"
    " WHERE result_count = 0",
    """
    CREATE TABLE search_log_hours (
        hour timestamptz NOT NULL,
        latency_bucket smallint NOT NULL,
        searches bigint NOT NULL,
        zero_results bigint NOT NULL,
        PRIMARY KEY (hour, latency_bucket)
    )
    """,
    # The same per UTC day: a month's chart by day reads 30 x ~80 rows.
    """
    CREATE TABLE search_log_days (
        day date NOT NULL,
        latency_bucket smallint NOT NULL,
        searches bigint NOT NULL,
        zero_results bigint NOT NULL,
        PRIMARY KEY (day, latency_bucket)
    )
    """,
    """
    CREATE TABLE search_log_terms_hourly (
        hour timestamptz NOT NULL,
        q text NOT NULL,
        author text NOT NULL,
        category text NOT NULL,
        params jsonb NOT NULL,
        searches bigint NOT NULL,
        zero_results bigint NOT NULL,
        PRIMARY KEY (hour, q, author, category)
    )
    """,
    """
    CREATE TABLE search_log_terms_daily (
        day date NOT NULL,
        q text NOT NULL,
        author text NOT NULL,
        category text NOT NULL,
        params jsonb NOT NULL,
        searches bigint NOT NULL,
        zero_results bigint NOT NULL,
        PRIMARY KEY (day, q, author, category)
    )
    """,
    # Candidates for a top list: each day's (each edge hour's) most frequent
    # searches, and most frequent zero-result ones, read in order off these,
    # index-only (the key is included: no row to fetch per candidate).
    "CREATE INDEX search_log_terms_daily_top_idx ON search_log_terms_daily"
    " (day, searches DESC) INCLUDE (q, author, category)",
    "CREATE INDEX search_log_terms_daily_top_zero_idx ON search_log_terms_daily"
    " (day, zero_results DESC) INCLUDE (q, author, category) WHERE zero_results > 0",
    "CREATE INDEX search_log_terms_hourly_top_idx ON search_log_terms_hourly"
    " (hour, searches DESC) INCLUDE (q, author, category)",
    "CREATE INDEX search_log_terms_hourly_top_zero_idx ON search_log_terms_hourly"
    " (hour, zero_results DESC) INCLUDE (q, author, category) WHERE zero_results > 0",
    # Then the candidates' exact counts over the range, one index range each.
    "CREATE INDEX search_log_terms_daily_search_idx"
    " ON search_log_terms_daily (q, author, category, day) INCLUDE (searches, zero_results)",
    "CREATE INDEX search_log_terms_hourly_search_idx"
    " ON search_log_terms_hourly (q, author, category, hour) INCLUDE (searches, zero_results)",
    *ROLL_UP_EXISTING_ROWS,
]

BACKWARDS = [
    "DROP TABLE search_log_terms_daily",
    "DROP TABLE search_log_terms_hourly",
    "DROP TABLE search_log_days",
    "DROP TABLE search_log_hours",
    "ALTER TABLE search_logs RENAME TO search_logs_partitioned",
    "ALTER INDEX search_logs_pkey RENAME TO search_logs_partitioned_pkey",
    "ALTER SEQUENCE search_logs_id_seq OWNED BY NONE",
    """
    CREATE TABLE search_logs (
        id integer PRIMARY KEY DEFAULT nextval('search_logs_id_seq'),
        author text,
        category text,
        q text,
        query text,
        result_count integer NOT NULL DEFAULT 0,
        duration_ms double precision NOT NULL DEFAULT 0.0,
        created_at timestamptz NOT NULL DEFAULT current_timestamp
    )
    """,
    # Ids past the integer range cannot go back: the rollback fails on them.
    """
    INSERT INTO search_logs (id, author, category, q, query, result_count, duration_ms, created_at)
    SELECT id, author, category, q, query, result_count, duration_ms, created_at
    FROM search_logs_partitioned
    """,
    "DROP TABLE search_logs_partitioned",
    "DROP FUNCTION search_logs_add_partitions(date, date)",
    "ALTER SEQUENCE search_logs_id_seq AS integer",
    "ALTER SEQUENCE search_logs_id_seq OWNED BY search_logs.id",
    "CREATE INDEX search_logs_created_at_id_idx ON search_logs (created_at, id)",
    "CREATE INDEX search_logs_zero_results_idx ON search_logs (created_at, id)"
    " WHERE result_count = 0",
]


async def forwards() -> MigrationManager:
    return raw_sql_migration(ID, DESCRIPTION, FORWARDS, BACKWARDS)
