DROP VIEW IF EXISTS {{.Database}}.score_events_validate_mv;
DROP VIEW IF EXISTS {{.Database}}.score_events_queue_mv;
DROP TABLE IF EXISTS {{.Database}}.score_events_queue;
