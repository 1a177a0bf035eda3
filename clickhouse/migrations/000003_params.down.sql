DROP TABLE IF EXISTS {{.Database}}.schema_params;
