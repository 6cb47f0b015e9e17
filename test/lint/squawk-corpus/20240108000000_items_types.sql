-- migrate:up
SET lock_timeout = '2s';
ALTER TABLE items ALTER COLUMN name TYPE varchar(40);
ALTER TABLE items ALTER COLUMN note TYPE varchar;
ALTER TABLE items ALTER COLUMN price TYPE numeric(12,2);
ALTER TABLE items ALTER COLUMN qty TYPE bigint;
ALTER TABLE accounts ALTER COLUMN email TYPE varchar(200);

-- migrate:down
ALTER TABLE items ALTER COLUMN qty TYPE int;
