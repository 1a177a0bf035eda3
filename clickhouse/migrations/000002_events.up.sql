-- Score events, validated in SQL by exactly the rules of contract section 1
-- and internal/leaderboard/validation.go (ParseEvent), same reasons in the
-- same order, so that the service and ClickHouse accept and reject the same
-- records (internal/leaderboard/testdata/corpus.ndjson pins the rules and
-- internal/warehouse/validation_chdb_test.go checks both sides against it).
--
-- Flow, per block inserted into records (materialized views fire on each
-- inserted block, before any merge), through Null tables (nothing stored):
--
--   records --to_validate_mv--> to_validate
--     --scanned_mv--> scanned --parsed_mv--> parsed --validated_mv--> validated
--       --events_mv-->          events          (valid, one row per identity after FINAL)
--       --deliveries_mv-->      deliveries      (valid, one row per source offset)
--       --rejected_events_mv--> rejected_events (invalid, one row per source offset)
--
-- (From migration 000004 on, the Kafka intake feeds to_validate directly and
-- to_validate_mv is dropped: see there.) The backfill at the end of this
-- file inserts the records that arrived before into to_validate: the very
-- same validation. No expression here may
-- fail on any input: a failing view fails the INSERT into records, and the
-- Kafka engine would retry the same block forever.
--
-- Note for editors: golang-migrate splits this file at every semicolon, so
-- none may appear in a string literal or a comment. This file is a Go
-- template: never write two opening braces in a row.

-- Board definitions (PUT /leaderboards/:id). A board without a row is a
-- sum board created by its first event.
CREATE TABLE IF NOT EXISTS {{.Database}}.boards
(
    board_id    String,
    name        String,
    aggregation LowCardinality(String),
    updated_at  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY board_id;

-- Accepted events, one row per identity (board, player, event_id) after
-- FINAL: ver = 2^64-1 - offset, so the lowest offset wins whatever the
-- insert blocks and merges (a later copy is a duplicate or a conflict, never
-- applied). Read with FINAL.
CREATE TABLE IF NOT EXISTS {{.Database}}.events
(
    board_id      String,
    player_id     String,
    event_id      String,
    score         Int64,
    occurred_at   DateTime64(3, 'UTC'),
    metadata      String,
    fingerprint   String,
    src_partition UInt32,
    src_offset    UInt64,
    record_ts     DateTime64(3, 'UTC'),
    ver           UInt64
)
ENGINE = ReplacingMergeTree(ver)
ORDER BY (board_id, player_id, event_id);

-- Every delivery of an accepted event, one row per source offset: the
-- deliveries of an identity after its first one are duplicates (same
-- fingerprint) or conflicts (another fingerprint), counted at query time.
-- Same columns as events, by construction.
CREATE TABLE IF NOT EXISTS {{.Database}}.deliveries AS {{.Database}}.events
ENGINE = ReplacingMergeTree
ORDER BY (board_id, player_id, event_id, src_partition, src_offset);

-- Rejected records, one row per source offset, with the original bytes.
CREATE TABLE IF NOT EXISTS {{.Database}}.rejected_events
(
    src_partition UInt32,
    src_offset    UInt64,
    record_key    String,
    raw           String,
    record_ts     DateTime64(3, 'UTC'),
    reason        LowCardinality(String),
    message       String
)
ENGINE = ReplacingMergeTree
ORDER BY (src_partition, src_offset);

-- The validation, in three steps, each a materialized view from one Null
-- table (nothing stored) into the next:
--
--   to_validate --scanned_mv--> scanned --parsed_mv--> parsed --validated_mv--> validated
--
-- Three views rather than one: ClickHouse plans a view's query for every
-- inserted block, and the planning time of one query this size grows far
-- faster than its size (ClickHouse 26.7: over 20 s per block as one view,
-- about 0.1 s per step). For the same reason no lambda captures a column
-- computed in the same view. Within a step, each CTE computes what the next
-- needs: an alias used in the same SELECT is substituted by its expression.

-- Records to validate. to_validate_mv below copies every record inserted into
-- records here, and the backfill at the end of this file the records that
-- arrived before: the same validation for both.
CREATE TABLE IF NOT EXISTS {{.Database}}.to_validate
(
    src_partition UInt32,
    src_offset    UInt64,
    record_key    String,
    raw           String,
    record_ts     DateTime64(3, 'UTC')
)
ENGINE = Null;

-- Step 1: the JSON syntax (malformed_json but for duplicate keys).
--
-- A JSON scanner in array functions. tokens cuts raw into JSON tokens
-- (whitespace runs, strings, numbers, literals, punctuation) with one regular
-- expression, leftmost-first: when the tokens cover every byte, raw is a
-- sequence of valid tokens (strings are checked strictly: no raw control
-- characters, only the escapes of RFC 8259). The grammar is then checked on
-- the non-whitespace tokens (nt) by looking at each token and the next one,
-- knowing the type of the container each token is in (ctype: 1 object,
-- 2 array, 0 top level), found by sorting the tokens by (nesting level,
-- position) and filling forward the type of the last opening bracket. This
-- is exactly encoding/json's json.Valid (number magnitudes and lone
-- surrogate escapes are fine, depth at most 10000), which ClickHouse's
-- isValidJSON is not (it rejects 1e999 and lone surrogates, and nesting
-- deeper than 1024). UTF-8 is checked on the whole value first.
--
-- kind of a token: 1 {  2 [  3 }  4 ]  5 :  6 ,  7 string  8 number or literal
-- (0 stands for the start and the end of the value).
CREATE TABLE IF NOT EXISTS {{.Database}}.scanned
(
    src_partition UInt32,
    src_offset    UInt64,
    record_key    String,
    raw           String,
    record_ts     DateTime64(3, 'UTC'),
    utf8_ok       UInt8,
    json_ok       UInt8,
    nt            Array(String), -- the tokens but whitespace
    nt_end        Array(UInt64), -- the byte offset in raw where each ends
    kind          Array(UInt8),
    depth         Array(Int64),  -- the nesting depth after each
    is_key        Array(UInt8)   -- whether each is the key of an object member
)
ENGINE = Null;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.scanned_mv TO {{.Database}}.scanned AS
WITH
lexed AS (
    SELECT *,
        isValidUTF8(raw) AS utf8_ok,
        if(utf8_ok,
            extractAll(raw, '[ \\t\\n\\r]+|"(?:[^"\\\\\\x00-\\x1F]+|\\\\["\\\\/bfnrt]|\\\\u[0-9a-fA-F]{4})*"|-?(?:0|[1-9][0-9]*)(?:\\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null|[{}\\[\\]:,]'),
            []) AS tokens
    FROM {{.Database}}.to_validate
),
significant AS (
    SELECT *,
        utf8_ok AND length(tokens) > 0 AND arraySum(arrayMap(t -> length(t), tokens)) = length(raw) AS lex_ok,
        -- The tokens without whitespace, and the byte offset each one ends at.
        arrayFilter(t -> NOT match(t, '^[ \\t\\n\\r]'), tokens) AS nt,
        arrayFilter((e, t) -> NOT match(t, '^[ \\t\\n\\r]'), arrayCumSum(arrayMap(t -> length(t), tokens)), tokens) AS nt_end
    FROM lexed
),
kinds AS (
    SELECT *,
        arrayMap(t -> toUInt8(multiIf(t = '{', 1, t = '[', 2, t = '}', 3, t = ']', 4, t = ':', 5, t = ',', 6, startsWith(t, '"'), 7, 8)), nt) AS kind
    FROM significant
),
depths AS (
    SELECT *,
        -- Nesting depth after each token.
        arrayCumSum(arrayMap(k -> toInt64(multiIf(k IN (1, 2), 1, k IN (3, 4), -1, 0)), kind)) AS depth,
        -- The kind of the token before and after each (0 at either end).
        arrayPopBack(arrayPushFront(kind, 0)) AS prev_kind,
        arrayPopFront(arrayPushBack(kind, 0)) AS next_kind
    FROM kinds
),
levels AS (
    SELECT *,
        -- (level, position, type of an opening bracket else 0) sorted: a
        -- token's container is the last opening bracket before it at its
        -- level (a closing bracket's level is the one it closes).
        arraySort(x -> (x.1, x.2), arrayMap((k, d, i) -> (if(k IN (3, 4), d + 1, d), toUInt64(i), if(k IN (1, 2), k, 0)),
            kind, depth, arrayEnumerate(kind))) AS by_level
    FROM depths
),
containers AS (
    SELECT *,
        arrayMap(x -> x.2, arraySort(x -> x.1,
            arrayZip(arrayMap(x -> x.2, by_level), arrayFill(c -> c != 0, arrayMap(x -> x.3, by_level))))) AS ctype
    FROM levels
),
keys AS (
    SELECT *,
        -- A string is a key when it opens an object member.
        arrayMap((k, c, p) -> toUInt8(k = 7 AND c = 1 AND p IN (1, 6)), kind, ctype, prev_kind) AS is_key
    FROM containers
),
grammar AS (
    SELECT *,
        lex_ok
        AND kind[1] IN (1, 2, 7, 8)
        AND arrayMin(depth) >= 0 AND arrayMax(depth) <= 10000
        AND arrayAll((k, n, c, d, key) -> multiIf(
                k = 1, n IN (7, 3),
                k = 2, n IN (1, 2, 7, 8, 4),
                k = 5, n IN (1, 2, 7, 8),
                k = 6, (c = 1 AND n = 7) OR (c = 2 AND n IN (1, 2, 7, 8)),
                key = 1, n = 5,
                k IN (3, 4) AND c + 2 != k, 0,   -- a bracket closing the other kind
                d = 0, n = 0,                    -- a value at the top level ends the text
                n IN (6, 3, 4)),                 -- a value in a container
            kind, next_kind, ctype, depth, is_key) AS json_ok
    FROM keys
)
SELECT src_partition, src_offset, record_key, raw, record_ts, utf8_ok, json_ok, nt, nt_end, kind, depth, is_key
FROM grammar;

-- Step 2: the members. Strings are decoded as encoding/json does (escapes
-- resolved, a lone surrogate escape as U+FFFD, noted in str_lone), the
-- members and the fields' values found, metadata measured and compacted.
CREATE TABLE IF NOT EXISTS {{.Database}}.parsed
(
    src_partition UInt32,
    src_offset    UInt64,
    record_key    String,
    raw           String,
    record_ts     DateTime64(3, 'UTC'),
    utf8_ok       UInt8,
    json_ok       UInt8,
    is_object     UInt8,
    key_names     Array(String),
    pos_event_id    UInt64, -- position in nt of each field's value, 0 when absent
    pos_board_id    UInt64,
    pos_player_id   UInt64,
    pos_score       UInt64,
    pos_occurred_at UInt64,
    pos_metadata    UInt64,
    meta_is_object UInt8,
    meta_keys     Array(String),
    meta_bytes    UInt64,        -- the metadata object's size as sent
    meta_compact  String,
    -- Each field's value: its kind (as in scanned), whether it holds a lone
    -- surrogate escape, the string decoded (for strings).
    event_id_kind    UInt8,
    event_id_lone    UInt8,
    event_id_str     String,
    board_id_kind    UInt8,
    board_id_lone    UInt8,
    board_id_str     String,
    player_id_kind   UInt8,
    player_id_lone   UInt8,
    player_id_str    String,
    occurred_at_kind UInt8,
    occurred_at_lone UInt8,
    occurred_at_str  String,
    score_kind       UInt8,
    score_token      String  -- the token as sent
)
ENGINE = Null;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.parsed_mv TO {{.Database}}.parsed AS
WITH
pieces AS (
    SELECT *,
        json_ok AND kind[1] = 1 AS is_object,
        -- Strings to decode: the top-level keys and values and the keys one
        -- level down, cut into runs without a backslash and escapes (a
        -- surrogate pair as one piece).
        arrayMap((t, k, d, key) ->
            if(k = 7 AND (d = 1 OR (d = 2 AND key = 1)),
                if(position(t, '\\') = 0, [substring(t, 2, length(t) - 2)],
                    extractAll(substring(t, 2, length(t) - 2), '\\\\u[dD][89abAB][0-9a-fA-F]{2}\\\\u[dD][c-fC-F][0-9a-fA-F]{2}|\\\\u[0-9a-fA-F]{4}|\\\\["\\\\/bfnrt]|[^\\\\]+')),
                []),
            nt, kind, depth, is_key) AS str_pieces
    FROM {{.Database}}.scanned
),
code_points AS (
    SELECT *,
        -- Per piece, the code point of a \u escape (a pair combined, a lone
        -- surrogate as U+FFFD), or 0x110000 for a piece kept or unescaped as is.
        arrayMap(ps -> arrayMap(p -> toUInt32(multiIf(
                NOT startsWith(p, '\\u'), 1114112,
                length(p) = 12, 65536
                    + (reinterpretAsUInt32(reverse(unhex(substring(p, 3, 4)))) - 55296) * 1024
                    + (reinterpretAsUInt32(reverse(unhex(substring(p, 9, 4)))) - 56320),
                reinterpretAsUInt32(reverse(unhex(substring(p, 3, 4)))) BETWEEN 55296 AND 57343, 65533,
                reinterpretAsUInt32(reverse(unhex(substring(p, 3, 4)))))), ps), str_pieces) AS str_cps,
        -- Whether the string holds a lone surrogate escape.
        arrayMap(ps -> toUInt8(arrayExists(p -> startsWith(p, '\\u') AND length(p) = 6
                AND reinterpretAsUInt32(reverse(unhex(substring(p, 3, 4)))) BETWEEN 55296 AND 57343, ps)), str_pieces) AS str_lone
    FROM pieces
),
decoded AS (
    SELECT *,
        arrayMap((ps, cs) -> arrayStringConcat(arrayMap((p, c) -> multiIf(
                c = 1114112, multiIf(
                    NOT startsWith(p, '\\'), p,
                    p = '\\b', '\b', p = '\\f', '\f', p = '\\n', '\n', p = '\\r', '\r', p = '\\t', '\t',
                    substring(p, 2, 1)),
                c < 128, char(c),
                c < 2048, char(192 + intDiv(c, 64), 128 + c % 64),
                c < 65536, char(224 + intDiv(c, 4096), 128 + intDiv(c, 64) % 64, 128 + c % 64),
                char(240 + intDiv(c, 262144), 128 + intDiv(c, 4096) % 64, 128 + intDiv(c, 64) % 64, 128 + c % 64)),
            ps, cs)), str_pieces, str_cps) AS str_dec,
        -- Top-level members: the positions in nt of their keys. A member's
        -- value is the token two after its key. (No lambda here captures a
        -- column computed in the same view: ClickHouse then takes far longer
        -- to plan the query, once per inserted block.)
        if(is_object, arrayFilter((i, key, d) -> key = 1 AND d = 1, arrayEnumerate(nt), is_key, depth), []) AS key_pos
    FROM code_points
),
members AS (
    SELECT *,
        if(is_object, arrayFilter((s, key, d) -> key = 1 AND d = 1, str_dec, is_key, depth), []) AS key_names
    FROM decoded
),
fields AS (
    SELECT *,
        if(has(key_names, 'event_id'), key_pos[indexOf(key_names, 'event_id')] + 2, 0) AS pos_event_id,
        if(has(key_names, 'leaderboard_id'), key_pos[indexOf(key_names, 'leaderboard_id')] + 2, 0) AS pos_board_id,
        if(has(key_names, 'player_id'), key_pos[indexOf(key_names, 'player_id')] + 2, 0) AS pos_player_id,
        if(has(key_names, 'score'), key_pos[indexOf(key_names, 'score')] + 2, 0) AS pos_score,
        if(has(key_names, 'occurred_at'), key_pos[indexOf(key_names, 'occurred_at')] + 2, 0) AS pos_occurred_at,
        if(has(key_names, 'metadata'), key_pos[indexOf(key_names, 'metadata')] + 2, 0) AS pos_metadata
    FROM members
),
meta AS (
    SELECT *,
        pos_metadata > 0 AND kind[pos_metadata] = 1 AS meta_is_object,
        -- The metadata object is nt[pos_metadata .. meta_end].
        if(pos_metadata > 0 AND kind[pos_metadata] = 1,
            pos_metadata + indexOf(arraySlice(depth, pos_metadata + 1), 1), 0) AS meta_end
    FROM fields
),
checks AS (
    SELECT *,
        -- Its keys one level down, its size as sent, its compacted text
        -- (json.Compact is the concatenation of the tokens without whitespace).
        if(meta_is_object,
            arrayFilter((s, key, d) -> key = 1 AND d = 2,
                arraySlice(str_dec, pos_metadata + 1, meta_end - pos_metadata - 1),
                arraySlice(is_key, pos_metadata + 1, meta_end - pos_metadata - 1),
                arraySlice(depth, pos_metadata + 1, meta_end - pos_metadata - 1)), []) AS meta_keys,
        if(meta_is_object, nt_end[meta_end] + 1 - nt_end[pos_metadata], 0) AS meta_bytes,
        if(meta_is_object, arrayStringConcat(arraySlice(nt, pos_metadata, meta_end + 1 - pos_metadata)), '') AS meta_compact
    FROM meta
)
SELECT src_partition, src_offset, record_key, raw, record_ts, utf8_ok, json_ok, is_object, key_names,
    pos_event_id, pos_board_id, pos_player_id, pos_score, pos_occurred_at, pos_metadata,
    meta_is_object, meta_keys, meta_bytes, meta_compact,
    kind[pos_event_id] AS event_id_kind, str_lone[pos_event_id] AS event_id_lone, str_dec[pos_event_id] AS event_id_str,
    kind[pos_board_id] AS board_id_kind, str_lone[pos_board_id] AS board_id_lone, str_dec[pos_board_id] AS board_id_str,
    kind[pos_player_id] AS player_id_kind, str_lone[pos_player_id] AS player_id_lone, str_dec[pos_player_id] AS player_id_str,
    kind[pos_occurred_at] AS occurred_at_kind, str_lone[pos_occurred_at] AS occurred_at_lone, str_dec[pos_occurred_at] AS occurred_at_str,
    kind[pos_score] AS score_kind, nt[pos_score] AS score_token
FROM checks;

-- Step 3: the fields' rules, the verdict and the event.
CREATE TABLE IF NOT EXISTS {{.Database}}.validated
(
    src_partition UInt32,
    src_offset    UInt64,
    record_key    String,
    raw           String,
    record_ts     DateTime64(3, 'UTC'),
    reason        LowCardinality(String), -- '' for a valid event
    message       String,
    board_id      String,
    player_id     String,
    event_id      String,
    score         Int64,
    occurred_at   DateTime64(3, 'UTC'),
    metadata      String,
    fingerprint   String,
    ver           UInt64
)
ENGINE = Null;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.validated_mv TO {{.Database}}.validated AS
WITH
checks AS (
    SELECT *,
        event_id_kind = 7 AND event_id_lone = 0
            AND length(event_id_str) BETWEEN 1 AND 128 AND match(event_id_str, '^[\\x21-\\x7E]+$') AS event_id_ok,
        board_id_kind = 7 AND board_id_lone = 0
            AND match(board_id_str, '^[a-z0-9][a-z0-9_-]{0,63}$') AS board_id_ok,
        player_id_kind = 7 AND player_id_lone = 0
            AND length(player_id_str) BETWEEN 1 AND 128 AND NOT match(player_id_str, '[\\x00-\\x1F\\x7F]') AS player_id_ok,
        -- occurred_at: groups 1..6 the date and time, 7 the fraction with its
        -- dot, 8 the zone.
        if(occurred_at_kind = 7 AND occurred_at_lone = 0,
            extractGroups(occurred_at_str, '^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(\\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})$'),
            []) AS occ_parts
    FROM {{.Database}}.parsed
),
numbers AS (
    SELECT *,
        length(key_names) != length(arrayDistinct(key_names)) AS dup_key,
        length(meta_keys) != length(arrayDistinct(meta_keys)) AS dup_meta_key,
        pos_metadata = 0 OR (meta_is_object AND meta_bytes <= 1024) AS meta_ok,
        score_kind = 8 AND match(score_token, '^-?(?:0|[1-9][0-9]*)$') AS score_ok,
        score_ok AND length(replaceOne(score_token, '-', '')) <= 13
            AND toUInt64OrZero(replaceOne(score_token, '-', '')) <= 1000000000000 AS score_in_range,
        toInt64OrZero(occ_parts[1]) AS occ_y,
        toInt64OrZero(occ_parts[2]) AS occ_mo,
        toInt64OrZero(occ_parts[3]) AS occ_d,
        toInt64OrZero(occ_parts[4]) AS occ_h,
        toInt64OrZero(occ_parts[5]) AS occ_mi,
        toInt64OrZero(occ_parts[6]) AS occ_s,
        toInt64OrZero(substring(concat(substring(occ_parts[7], 2), '000'), 1, 3)) AS occ_ms,
        if(startsWith(occ_parts[8], '-'), -1, 1) AS occ_sign,
        toInt64OrZero(substring(occ_parts[8], 2, 2)) AS occ_oh,
        toInt64OrZero(substring(occ_parts[8], 5, 2)) AS occ_om
    FROM checks
),
instants AS (
    SELECT *,
        length(occ_parts) = 8
            AND occ_mo BETWEEN 1 AND 12
            AND occ_d BETWEEN 1 AND multiIf(
                occ_mo = 2, if(occ_y % 4 = 0 AND (occ_y % 100 != 0 OR occ_y % 400 = 0), 29, 28),
                occ_mo IN (4, 6, 9, 11), 30,
                31)
            AND occ_h <= 23 AND occ_mi <= 59 AND occ_s <= 59
            AND occ_oh <= 23 AND occ_om <= 59 AS occurred_at_ok,
        -- Days since 1970-01-01 by the proleptic Gregorian calendar (years
        -- shifted by 400 so that every division is of a positive number).
        (occ_y + 400 - (occ_mo <= 2)) * 365
            + intDiv(occ_y + 400 - (occ_mo <= 2), 4) - intDiv(occ_y + 400 - (occ_mo <= 2), 100) + intDiv(occ_y + 400 - (occ_mo <= 2), 400)
            + intDiv(153 * ((occ_mo + 9) % 12) + 2, 5) + occ_d - 1
            - 719468 - 146097 AS occ_days,
        toUnixTimestamp64Milli(record_ts) + {{.MaxSkewMillis}} AS latest_ms  -- record timestamp + max skew, in ms
    FROM numbers
),
verdicts AS (
    SELECT *,
        -- Unix milliseconds: the local time minus the offset, the fraction
        -- truncated (offsets are whole minutes).
        if(occurred_at_ok,
            occ_days * 86400000 + occ_h * 3600000 + occ_mi * 60000 + occ_s * 1000 + occ_ms
                - occ_sign * (occ_oh * 3600000 + occ_om * 60000),
            0) AS occurred_at_ms
    FROM instants
),
judged AS (
    SELECT *,
        -- The first failing rule, in the contract's order.
        multiIf(
            NOT is_object OR dup_key OR (meta_is_object AND dup_meta_key), 'malformed_json',
            pos_event_id = 0 OR pos_board_id = 0 OR pos_player_id = 0 OR pos_score = 0 OR pos_occurred_at = 0, 'missing_field',
            NOT (event_id_ok AND board_id_ok AND player_id_ok AND score_ok AND occurred_at_ok AND meta_ok), 'invalid_field',
            NOT score_in_range, 'score_out_of_range',
            occurred_at_ms < 946684800000 OR occurred_at_ms > latest_ms, 'occurred_at_out_of_range',
            record_key != concat(board_id_str, ':', player_id_str), 'key_mismatch',
            '') AS verdict
    FROM verdicts
)
SELECT
    src_partition, src_offset, record_key, raw, record_ts,
    verdict AS reason,
    multiIf(
        NOT utf8_ok, 'not valid UTF-8',
        NOT json_ok, 'not a single valid JSON value',
        NOT is_object, 'not a JSON object',
        dup_key, concat('duplicate key "', arrayFirst((a, b) -> a = b, arrayPopFront(arraySort(key_names)), arrayPopBack(arraySort(key_names))), '"'),
        meta_is_object AND dup_meta_key, concat('metadata: duplicate key "', arrayFirst((a, b) -> a = b, arrayPopFront(arraySort(meta_keys)), arrayPopBack(arraySort(meta_keys))), '"'),
        pos_event_id = 0, 'event_id: required',
        pos_board_id = 0, 'leaderboard_id: required',
        pos_player_id = 0, 'player_id: required',
        pos_score = 0, 'score: required',
        pos_occurred_at = 0, 'occurred_at: required',
        NOT event_id_ok, 'event_id: must be a string of 1 to 128 printable ASCII characters, no spaces',
        NOT board_id_ok, 'leaderboard_id: must match ^[a-z0-9][a-z0-9_-]{0,63}$',
        NOT player_id_ok, 'player_id: must be a string of 1 to 128 bytes of UTF-8, no control characters',
        NOT score_ok, 'score: must be a JSON integer',
        NOT occurred_at_ok, 'occurred_at: must be a string YYYY-MM-DDTHH:MM:SS[.fraction](Z|+hh:mm|-hh:mm)',
        NOT meta_ok AND NOT meta_is_object, 'metadata: must be a JSON object',
        NOT meta_ok, 'metadata: must be at most 1024 bytes',
        NOT score_in_range, 'score: must be within ±1000000000000',
        occurred_at_ms < 946684800000, 'occurred_at: must not be before 2000-01-01T00:00:00Z',
        occurred_at_ms > latest_ms, concat('occurred_at: must not be later than the record timestamp + ',
            toString({{.MaxSkewMillis}}), ' ms'),
        verdict = 'key_mismatch', concat('key: must be "', board_id_str, ':', player_id_str, '"'),
        '') AS message,
    if(verdict = '', board_id_str, '') AS board_id,
    if(verdict = '', player_id_str, '') AS player_id,
    if(verdict = '', event_id_str, '') AS event_id,
    if(verdict = '', toInt64OrZero(score_token), 0) AS score,
    fromUnixTimestamp64Milli(if(verdict = '', occurred_at_ms, 0), 'UTC') AS occurred_at,
    if(verdict = '', meta_compact, '') AS metadata,
    -- As leaderboard.Event.Fingerprint: score|occurred_at in ms|metadata.
    concat(toString(score), '|', toString(if(verdict = '', occurred_at_ms, 0)), '|', metadata) AS fingerprint,
    toUInt64(18446744073709551615) - src_offset AS ver
FROM judged;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.events_mv TO {{.Database}}.events AS
SELECT board_id, player_id, event_id, score, occurred_at, metadata, fingerprint,
       src_partition, src_offset, record_ts, ver
FROM {{.Database}}.validated
WHERE reason = '';

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.deliveries_mv TO {{.Database}}.deliveries AS
SELECT board_id, player_id, event_id, score, occurred_at, metadata, fingerprint,
       src_partition, src_offset, record_ts, ver
FROM {{.Database}}.validated
WHERE reason = '';

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.rejected_events_mv TO {{.Database}}.rejected_events AS
SELECT src_partition, src_offset, record_key, raw, record_ts, reason, message
FROM {{.Database}}.validated
WHERE reason != '';

-- Every record inserted from now on is validated...
CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.to_validate_mv TO {{.Database}}.to_validate AS
SELECT src_partition, src_offset, record_key, raw, record_ts
FROM {{.Database}}.records;

-- ...and so is every record that arrived before. A record inserted between
-- the view above and this backfill goes through twice: harmless, since every
-- table keeps one row per source offset (events one per identity, the
-- lowest offset).
INSERT INTO {{.Database}}.to_validate (src_partition, src_offset, record_key, raw, record_ts)
SELECT src_partition, src_offset, record_key, raw, record_ts
FROM {{.Database}}.records;
