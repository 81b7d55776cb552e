-- The catalog gets a database of its own beside Airflow's metadata database.
-- (Its tables are created by the pipeline's migrations, not here.)
CREATE DATABASE ocr_catalog OWNER airflow;
