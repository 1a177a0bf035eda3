DROP TABLE IF EXISTS {{.Database}}.records;
