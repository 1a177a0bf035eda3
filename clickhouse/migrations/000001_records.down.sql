DROP VIEW IF EXISTS {{.Database}}.score_events_queue_mv;
DROP TABLE IF EXISTS {{.Database}}.score_events_queue;
DROP TABLE IF EXISTS {{.Database}}.records;
